"""Paging: the pure walk over ``{data, total, offset, limit}`` pages, then end to end
through FakeSevalla (lazy fetching, the spec's bounds, ``total`` changing between pages)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

import pytest

from sevalla_async import APIResponseValidationError, InternalServerError, SevallaClient
from sevalla_async._resources._paging import iterate_pages
from sevalla_async.testing import FakeSevalla, Fault

# --- pure: a list held in memory, served page by page ------------------------------------------


class Listing:
    """A server-side list whose pages are fetched by ``fetch``; records every call and can
    change the list between calls (``before_fetch``)."""

    def __init__(self, items: Sequence[int]) -> None:
        self.items = list(items)
        self.calls: list[tuple[int, int]] = []
        self.before_fetch: Callable[[int], None] | None = None

    async def fetch(self, limit: int, offset: int) -> tuple[list[int], int]:
        if self.before_fetch is not None:
            self.before_fetch(len(self.calls))
        self.calls.append((limit, offset))
        return self.items[offset : offset + limit], len(self.items)


async def collect(listing: Listing, page_size: int, *, dedupe: bool = True) -> list[int]:
    pages = iterate_pages(listing.fetch, page_size=page_size, key=(lambda x: x) if dedupe else None)
    return [item async for item in pages]


async def test_empty_list_is_one_request() -> None:
    listing = Listing([])
    assert await collect(listing, 10) == []
    assert listing.calls == [(10, 0)]


async def test_exactly_one_full_page_is_one_request() -> None:
    listing = Listing(range(10))
    assert await collect(listing, 10) == list(range(10))
    assert listing.calls == [(10, 0)]


async def test_last_partial_page() -> None:
    listing = Listing(range(23))
    assert await collect(listing, 10) == list(range(23))
    assert listing.calls == [(10, 0), (10, 10), (10, 20)]


async def test_exact_multiple_of_the_page_size_needs_no_extra_request() -> None:
    listing = Listing(range(30))
    assert await collect(listing, 10) == list(range(30))
    assert listing.calls == [(10, 0), (10, 10), (10, 20)]


async def test_nothing_is_fetched_before_iteration_and_pages_only_when_needed() -> None:
    listing = Listing(range(25))
    pages = iterate_pages(listing.fetch, page_size=10)
    assert listing.calls == []
    assert await anext(pages) == 0
    assert listing.calls == [(10, 0)]
    for expected in range(1, 10):
        assert await anext(pages) == expected
    assert listing.calls == [(10, 0)]  # the 10 items of page one, still one request
    assert await anext(pages) == 10
    assert listing.calls == [(10, 0), (10, 10)]


async def test_a_grown_total_is_followed_to_the_new_end() -> None:
    listing = Listing(range(12))

    def grow(call: int) -> None:
        if call == 1:
            listing.items.extend([100, 101, 102])

    listing.before_fetch = grow
    assert await collect(listing, 10) == [*range(12), 100, 101, 102]
    assert listing.calls == [(10, 0), (10, 10)]


async def test_a_shrunk_total_stops_early() -> None:
    listing = Listing(range(25))

    def shrink(call: int) -> None:
        if call == 1:
            del listing.items[12:]

    listing.before_fetch = shrink
    assert await collect(listing, 10) == list(range(12))
    assert listing.calls == [(10, 0), (10, 10)]


async def test_items_added_at_the_front_are_not_yielded_twice() -> None:
    """Most-recent-first lists shift when something new arrives between pages."""
    listing = Listing(range(20))

    def prepend(call: int) -> None:
        if call == 1:
            listing.items[:0] = [-1, -2]  # two new items push 8 and 9 onto page two

    listing.before_fetch = prepend
    assert await collect(listing, 10) == list(range(20))
    assert listing.calls == [(10, 0), (10, 10), (10, 20)]


async def test_without_a_key_shifted_items_repeat() -> None:
    listing = Listing(range(20))
    listing.before_fetch = lambda call: listing.items.insert(0, -1) if call == 1 else None
    assert await collect(listing, 10, dedupe=False) == [*range(10), 9, *range(10, 20)]


async def test_an_empty_page_ends_even_if_total_says_more() -> None:
    async def lying(limit: int, offset: int) -> tuple[list[int], int]:
        return ([1, 2] if offset == 0 else []), 50

    assert [x async for x in iterate_pages(lying, page_size=2)] == [1, 2]


async def test_a_failed_page_can_be_retried_by_iterating_again() -> None:
    listing = Listing(range(15))
    failures = [RuntimeError("boom")]

    async def flaky(limit: int, offset: int) -> tuple[list[int], int]:
        if offset == 10 and failures:
            raise failures.pop()
        return await listing.fetch(limit, offset)

    pages = iterate_pages(flaky, page_size=10)
    got = [await anext(pages) for _ in range(10)]
    with pytest.raises(RuntimeError, match="boom"):
        await anext(pages)
    got += [x async for x in pages]
    assert got == list(range(15))


@pytest.mark.parametrize("size", [0, 101, -1, 2.5, "10", True])
def test_page_size_is_checked_at_the_call(size: object) -> None:
    with pytest.raises(ValueError, match="page_size"):
        iterate_pages(Listing([]).fetch, page_size=size)  # type: ignore[arg-type]


# --- end to end ------------------------------------------------------------------------------


async def test_pipelines_list_pages_through_everything(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    made = [fake.add_pipeline(name=f"p{i}") for i in range(7)]
    got = [p async for p in client.pipelines.list(page_size=3)]
    assert [p.id for p in got] == [p.id for p in made]
    sent = fake.requests_to("GET", "/pipelines")
    assert [r.query for r in sent] == [
        {"limit": "3", "offset": "0"},
        {"limit": "3", "offset": "3"},
        {"limit": "3", "offset": "6"},
    ]


async def test_pipelines_list_fetches_lazily(fake: FakeSevalla, client: SevallaClient) -> None:
    for _ in range(5):
        fake.add_pipeline()
    pages = client.pipelines.list(page_size=2)
    assert fake.requests == []
    first = await anext(pages)
    second = await anext(pages)
    assert first.id != second.id
    assert len(fake.requests) == 1
    await anext(pages)
    assert len(fake.requests) == 2


async def test_pipelines_list_with_no_pipelines(fake: FakeSevalla, client: SevallaClient) -> None:
    assert [p async for p in client.pipelines.list()] == []
    assert len(fake.requests) == 1


async def test_pipelines_added_between_pages_are_listed(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    for _ in range(4):
        fake.add_pipeline()
    pages = client.pipelines.list(page_size=3)
    seen = [await anext(pages) for _ in range(3)]
    late = fake.add_pipeline(name="late")  # total goes from 4 to 5 between the pages
    seen += [p async for p in pages]
    assert [p.id for p in seen] == list(fake.state.pipelines)
    assert seen[-1].id == late.id
    assert len(fake.requests_to("GET", "/pipelines")) == 2


async def test_pipelines_removed_between_pages_end_the_list(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    made = [fake.add_pipeline() for _ in range(6)]
    pages = client.pipelines.list(page_size=3)
    seen = [await anext(pages) for _ in range(3)]
    for pipeline in made[:3]:
        del fake.state.pipelines[pipeline.id]  # total drops to 3: offset 3 is the end
    seen += [p async for p in pages]
    assert [p.id for p in seen] == [p.id for p in made[:3]]


async def test_deployments_started_between_pages_do_not_repeat(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app(deployed=False)
    made = [fake.add_deployment(app, script=["success"]) for _ in range(5)]
    pages = client.deployments.list(app, page_size=2)
    seen = [await anext(pages) for _ in range(2)]
    fake.add_deployment(app)  # newest first: everything shifts one place down
    seen += [d async for d in pages]
    assert [d.id for d in seen] == [d.id for d in reversed(made)]


async def test_a_5xx_on_a_page_is_retried(fake: FakeSevalla, client: SevallaClient) -> None:
    for _ in range(3):
        fake.add_pipeline()
    fake.inject(Fault.error(503), method="GET", path="/pipelines")
    assert len([p async for p in client.pipelines.list(page_size=2)]) == 3
    assert [r.status for r in fake.requests] == [503, 200, 200]


async def test_a_persistent_5xx_is_raised(fake: FakeSevalla, make_client) -> None:
    fake.add_pipeline()
    client = make_client(max_retries=1)
    fake.inject(Fault.error(500), times=2, method="GET")
    with pytest.raises(InternalServerError):
        [p async for p in client.pipelines.list()]


async def test_a_malformed_page_is_a_validation_error(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    fake.inject(Fault(status=200, body={"data": [], "total": "many", "offset": 0, "limit": 25}))
    with pytest.raises(APIResponseValidationError, match="total"):
        [p async for p in client.pipelines.list()]


# --- the fake pages as the spec says ------------------------------------------------------------


async def _raw_get(client: SevallaClient, fake: FakeSevalla, path: str) -> tuple[int, dict]:
    session = client._transport.session
    async with session.get(
        fake.base_url + path, headers={"Authorization": f"Bearer {fake.api_key}"}
    ) as reply:
        return reply.status, await reply.json()


@pytest.mark.sevalla_loopback
async def test_fake_defaults_to_25_per_page(fake: FakeSevalla, client: SevallaClient) -> None:
    for _ in range(30):
        fake.add_pipeline()
    status, body = await _raw_get(client, fake, "/pipelines")
    assert status == 200
    assert (len(body["data"]), body["total"], body["offset"], body["limit"]) == (25, 30, 0, 25)
    status, body = await _raw_get(client, fake, "/pipelines?offset=25&limit=100")
    assert (len(body["data"]), body["total"], body["offset"], body["limit"]) == (5, 30, 25, 100)


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=ten", "offset=-1", "offset=10001"],
)
@pytest.mark.sevalla_loopback
async def test_fake_refuses_out_of_bounds_paging(
    fake: FakeSevalla, client: SevallaClient, query: str
) -> None:
    app = fake.add_app()
    for path in (f"/pipelines?{query}", f"/applications/{app}/deployments?{query}"):
        status, body = await _raw_get(client, fake, path)
        assert status == 400
        assert body["message"].startswith("querystring/")


@pytest.mark.sevalla_loopback
async def test_fake_list_deployments_of_an_unknown_app_is_404(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    status, body = await _raw_get(client, fake, f"/applications/{uuid.uuid4()}/deployments")
    assert status == 404
    assert body["message"] == "Application not found"

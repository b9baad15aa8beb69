"""Reconciliation's evidence rules through the real client against FakeSevalla: one
regression test per way a wrong ``False`` (a second promotion) was reproduced."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from sevalla_async import (
    APIError,
    PromotionState,
    SevallaClient,
    Transport,
    TransportRequest,
    TransportResponse,
)
from sevalla_async._reconcile import Reconciler
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

from .helpers import promotions_of

PROMOTE = "/promote"


async def ambiguous(fake, client, fault, *, targets=2):
    request = fake.promote_requests(1, targets=targets)[0]
    fake.inject(fault, method="POST", path=PROMOTE)
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.promotion_state is PromotionState.UNKNOWN
    return request, info.value.sent_at


def _lists_of(request: TransportRequest, apps: set[uuid.UUID]) -> bool:
    path = urlsplit(request.url).path
    return request.method == "GET" and any(path.endswith(f"/{a}/deployments") for a in apps)


def _with_headers(reply: TransportResponse, **headers: str) -> TransportResponse:
    merged = CIMultiDict(reply.headers)
    for name, value in headers.items():
        merged[name] = value
    return TransportResponse(reply.status, CIMultiDictProxy(merged), reply.body)


def _http_date(unix: float) -> str:
    return format_datetime(datetime.fromtimestamp(unix, timezone.utc), usegmt=True)


class _Wrapper:
    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.apps: set[uuid.UUID] = set()

    async def aclose(self) -> None:
        await self.inner.aclose()


class TargetDate(_Wrapper):
    """A front end that stamps the replies listing the ``apps``' deployments (the targets',
    not the source's) with a ``Date`` ``ahead`` seconds off; their bodies stay right."""

    def __init__(self, inner: Transport, clock: FakeClock, ahead: float) -> None:
        super().__init__(inner)
        self.clock, self.ahead = clock, ahead

    async def send(self, request: TransportRequest) -> TransportResponse:
        reply = await self.inner.send(request)
        if not _lists_of(request, self.apps):
            return reply
        return _with_headers(reply, Date=_http_date(self.clock.wall() + self.ahead))


class StaleCache(_Wrapper):
    """A cache in front of the ``apps``' lists: once ``frozen``, it serves the reply it last
    stored for a URL, with its original ``Date`` and an ``Age`` (or none, when ``age`` is
    off: a cache that hides it)."""

    def __init__(self, inner: Transport, clock: FakeClock, *, age: bool = True) -> None:
        super().__init__(inner)
        self.clock, self.age = clock, age
        self.stored: dict[str, tuple[float, TransportResponse]] = {}
        self.frozen = False

    async def send(self, request: TransportRequest) -> TransportResponse:
        if not _lists_of(request, self.apps):
            return await self.inner.send(request)
        if self.frozen and request.url in self.stored:
            at, reply = self.stored[request.url]
            headers = {"Age": str(int(self.clock() - at))} if self.age else {}
            return _with_headers(reply, **headers)
        reply = await self.inner.send(request)
        self.stored[request.url] = (self.clock(), reply)
        return reply


class OldestFirst(_Wrapper):
    """A server that pages the ``apps``' deployments oldest first (the spec says most
    recent first): it reads the whole list from the fake and serves the asked-for slice of
    it reversed."""

    async def send(self, request: TransportRequest) -> TransportResponse:
        if not _lists_of(request, self.apps):
            return await self.inner.send(request)
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        limit, offset = int(query.get("limit", 25)), int(query.get("offset", 0))
        everything: list[object] = []
        while True:
            page_url = urlunsplit(
                url._replace(query=urlencode({"limit": 100, "offset": len(everything)}))
            )
            first = await self.inner.send(
                TransportRequest("GET", page_url, request.headers, None, request.timeout, 10**7)
            )
            page = json.loads(first.body)
            everything.extend(page["data"])
            if not page["data"] or len(everything) >= page["total"]:
                break
        everything.reverse()
        body = {
            "data": everything[offset : offset + limit],
            "total": len(everything),
            "offset": offset,
            "limit": limit,
        }
        return TransportResponse(first.status, first.headers, json.dumps(body).encode())


# --- 1. the source's build is the one at the send ------------------------------------------


async def test_a_source_build_made_30s_after_the_request_is_not_the_promoted_one(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    clock.advance(30)
    fake.script_deployments(["success"], app_id=request.source_app_id)
    fake.deploy(request.source_app_id)  # staging gets a new build, inside the window
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [True, True]  # was [False, False]: twice
    for verdict, target in zip(verdicts, request.target_app_ids, strict=True):
        assert verdict.deployment is not None
        assert [verdict.deployment.id] == promotions_of(fake, target)


async def test_a_source_build_in_progress_at_the_request_is_not_the_promoted_one(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    fake.script_deployments(["inProgress", "success"], app_id=request.source_app_id, every=60)
    fake.deploy(request.source_app_id)  # building when the promote is sent; done 50 s later
    clock.advance(10)
    fake.inject(Fault.act_then_fail("error"), method="POST", path=PROMOTE)
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=info.value.sent_at)
    assert [v.promoted for v in verdicts] == [True, True]  # was [False, False]


async def test_a_source_build_ending_at_the_send_leaves_the_build_unknown(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    """A success of another build that ended within the margin of the send may be what
    the API promoted: undecided, never False, never True for the older build."""
    request = fake.promote_requests(1, targets=2)[0]
    fake.script_deployments(["inProgress", "success"], app_id=request.source_app_id, every=60)
    fake.deploy(request.source_app_id)
    clock.advance(58)  # it ends 2 s after the send: the API may have acted a moment late
    fake.inject(Fault.fail_without_acting("error"), method="POST", path=PROMOTE)
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=info.value.sent_at)
    assert [v.promoted for v in verdicts] == [None, None]
    assert "different builds may each have been the latest" in verdicts[0].reason


# --- 2. the source's history is read back to its last success ------------------------------


async def test_the_source_is_read_back_past_failures_older_than_the_window(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    fake.script_deployments(["failed"])
    for _ in range(150):  # the last success is on page 2
        fake.deploy(request.source_app_id)
    fake.script_deployments(["waiting", "inProgress", "success"])
    clock.advance(1000)
    fake.inject(Fault.act_then_fail("error"), method="POST", path=PROMOTE)
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=info.value.sent_at)
    assert [v.promoted for v in verdicts] == [True, True]  # was None: "build unknown" forever


# --- 3. every read's Date is checked ---------------------------------------------------------


@pytest.mark.parametrize("ahead", [3600.0, -3600.0, -600.0])
@pytest.mark.parametrize("made", [True, False])
async def test_a_wrong_date_on_the_targets_reads_only_is_never_false(
    fake: FakeSevalla,
    make_client: Callable[..., SevallaClient],
    clock: FakeClock,
    ahead: float,
    made: bool,
) -> None:
    transport = TargetDate(fake.transport(), clock, ahead)
    client = make_client(transport=transport)
    fault = Fault.act_then_fail("error") if made else Fault.fail_without_acting("error")
    request, sent_at = await ambiguous(fake, client, fault)
    transport.apps.update(request.target_app_ids)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [None, None]  # was [False, False] when made
    assert "the clocks disagree" in verdicts[0].reason


@pytest.mark.parametrize("age", [True, False])
async def test_a_stale_cached_list_from_before_the_promotion_is_never_false(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock, age: bool
) -> None:
    transport = StaleCache(fake.transport(), clock, age=age)
    client = make_client(transport=transport)
    request = fake.promote_requests(1, targets=2)[0]
    transport.apps.update(request.target_app_ids)
    for target in request.target_app_ids:  # the cache stores the lists before the promote
        assert [d async for d in client.deployments.list(target)]
    transport.frozen = True
    clock.advance(1)
    fake.inject(Fault.act_then_fail("error"), method="POST", path=PROMOTE)
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=info.value.sent_at)
    assert [v.promoted for v in verdicts] == [None, None]  # was [False, False]: twice


async def test_a_cached_list_with_its_age_still_finds_the_promotion(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    transport = StaleCache(fake.transport(), clock)
    client = make_client(transport=transport)
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    transport.apps.update(request.target_app_ids)
    clock.advance(30)
    for target in request.target_app_ids:  # cached after the promotion was made
        assert [d async for d in client.deployments.list(target)]
    transport.frozen = True
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [True, True]  # the Age corrects the offset


async def test_a_consistent_skew_with_a_right_date_is_still_handled(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    fake.clock_skew = -3600.0
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [True, True]


# --- 4. the order of the list is checked --------------------------------------------------


@pytest.mark.parametrize("made", [True, False])
async def test_an_oldest_first_history_is_read_whole(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock, made: bool
) -> None:
    transport = OldestFirst(fake.transport())
    client = make_client(transport=transport)
    request = fake.promote_requests(1, targets=1)[0]
    target = request.target_app_ids[0]
    transport.apps.add(target)
    for _ in range(150):  # an old history: the promotion is on the second page, oldest first
        fake.deploy(target)
        clock.advance(1)
    clock.advance(1000)
    fault = Fault.act_then_fail("error") if made else Fault.fail_without_acting("error")
    fake.inject(fault, method="POST", path=PROMOTE)
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=info.value.sent_at)
    assert verdicts[0].promoted is made  # was False when made: promoted twice
    if made:
        assert verdicts[0].deployment is not None
        assert [verdicts[0].deployment.id] == promotions_of(fake, target)


# --- 5. the settle period is measured on the monotonic clock ---------------------------------


async def test_a_wall_clock_step_does_not_end_the_settle_period(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    step = [0.0]
    client = make_client(wall_clock=lambda: clock.wall() + step[0])
    request = fake.promote_requests(1, targets=2)[0]
    clock.advance(1000)  # the source's build is old: any window finds it
    fake.inject(Fault.act_then_fail("error", late=20), method="POST", path=PROMOTE)
    sent_clock = clock()
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    step[0] = 300.0  # the wall clock jumps right after the send
    clock.advance(1)
    core = client.pipelines._core  # the client's reads, as promote(reconcile=True) uses them
    reconciler = Reconciler(core, core.wall_clock, clock=core.clock)
    sent_at = info.value.sent_at
    assert sent_at is not None
    first = await reconciler.look(request, sent_at, sent_clock=sent_clock)
    assert [v.promoted for v in first] == [None, None]  # was [False, False]: twice
    assert "settle period is not over" in first[0].reason
    clock.advance(120)
    later = await reconciler.look(request, sent_at, sent_clock=sent_clock)
    assert [v.promoted for v in later] == [True, True]


async def test_sent_clock_needs_the_reconcilers_clock(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1)[0]
    reconciler = Reconciler(client.pipelines._core, clock.wall)
    with pytest.raises(ValueError, match="sent_clock"):
        await reconciler.look(request, datetime.now(timezone.utc), sent_clock=clock())
    assert fake.requests == []

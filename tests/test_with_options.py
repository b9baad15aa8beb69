"""client.with_options: other call options over the same transport, budget and pacing."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from sevalla_async import (
    APIConnectionError,
    ClientRateLimitError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    SevallaClient,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


def promotes(fake: FakeSevalla) -> int:
    return len(fake.requests_to("POST", "/promote"))


async def test_max_retries_changes_only_for_the_derived_client(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    client = make_client(retry_policy=RetryPolicy(max_retries=3, jitter=lambda w: w))
    pipeline = fake.add_pipeline()
    once = client.with_options(max_retries=0)
    fake.inject(Fault.error(503), times=10)
    with pytest.raises(InternalServerError) as info:
        await once.pipelines.get(pipeline.id)
    assert info.value.attempts == 1
    with pytest.raises(InternalServerError) as info:
        await client.pipelines.get(pipeline.id)
    assert info.value.attempts == 4
    assert once.retry_policy.max_retries == 0
    assert client.retry_policy.max_retries == 3
    assert once.retry_policy.jitter is client.retry_policy.jitter  # the rest is kept


async def test_timeout_changes_and_the_rate_limit_budget_is_shared(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    client = make_client()  # timeout 30 s
    first, second, third = fake.promote_requests(3)
    fake.inject(Fault.rate_limited(retry_after=120))
    with pytest.raises(RateLimitError):
        await client.pipelines.promote_request(first)
    assert promotes(fake) == 1
    # A copy with a short timeout sees the same spent budget: held, nothing sent.
    with pytest.raises(ClientRateLimitError):
        await client.with_options(timeout=10).pipelines.promote_request(second)
    assert promotes(fake) == 1
    # A patient copy waits for the shared budget's reset, then sends.
    patient = client.with_options(timeout=300)
    start = clock()
    promotions = await patient.pipelines.promote_request(third)
    assert len(promotions) == len(third.target_app_ids)
    assert 119 <= clock() - start <= 121
    assert promotes(fake) == 2


async def test_closing_the_derived_client_closes_nothing(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    client = make_client()
    pipeline = fake.add_pipeline()
    async with client.with_options(timeout=5) as derived:
        assert (await derived.pipelines.get(pipeline.id)).id == pipeline.id
    await derived.aclose()
    assert (await client.pipelines.get(pipeline.id)).id == pipeline.id  # still open
    await client.aclose()
    with pytest.raises(APIConnectionError) as info:  # the original's transport: closed
        await derived.pipelines.get(pipeline.id)
    assert not info.value.request_sent


@pytest.mark.sevalla_loopback
async def test_derived_client_sends_through_the_same_session(fake: FakeSevalla) -> None:
    pipeline = fake.add_pipeline()
    async with aiohttp.ClientSession(headers={"X-App": "backend"}) as session:
        async with SevallaClient(fake.api_key, base_url=fake.base_url, session=session) as c:
            async with c.with_options(max_retries=1) as derived:
                await derived.pipelines.get(pipeline.id)
                assert "session=shared" in repr(derived)
            await c.pipelines.get(pipeline.id)
        assert not session.closed
    assert [r.headers.get("X-App") for r in fake.requests] == ["backend", "backend"]


@pytest.mark.sevalla_loopback
async def test_derived_client_leaves_the_owned_session_open(fake: FakeSevalla) -> None:
    pipeline = fake.add_pipeline()
    async with SevallaClient(fake.api_key, base_url=fake.base_url) as client:
        await client.pipelines.get(pipeline.id)
        async with client.with_options(timeout=5) as derived:
            await derived.pipelines.get(pipeline.id)
        assert (await client.pipelines.get(pipeline.id)).id == pipeline.id
    assert len(fake.requests) == 3


async def test_poll_pacing_is_shared(make_client: Callable[..., SevallaClient]) -> None:
    client = make_client()
    derived = client.with_options(timeout=60)
    client.deployments.max_polls_per_minute = 30
    assert derived.deployments.max_polls_per_minute == 30


async def test_options_not_given_are_kept(make_client: Callable[..., SevallaClient]) -> None:
    client = make_client(timeout=12, max_retries=5)
    same = client.with_options()
    assert same.retry_policy == client.retry_policy
    no_limit = client.with_options(timeout=None)
    assert no_limit.retry_policy.max_retries == 5


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": "30"}, "timeout"),
        ({"timeout": aiohttp.ClientTimeout(total=5)}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
    ],
)
async def test_invalid_options_name_the_field(
    make_client: Callable[..., SevallaClient], options: dict[str, object], field: str
) -> None:
    client = make_client()
    with pytest.raises(ValueError, match=field):
        client.with_options(**options)  # type: ignore[arg-type]


async def test_a_custom_policy_object_cannot_take_max_retries(
    make_client: Callable[..., SevallaClient],
) -> None:
    class Never:
        max_retries = 0

        def schedule(self) -> object:
            return iter(())

        def decide(self, *_: object, **__: object) -> None:
            return None

    client = make_client(retry_policy=Never())
    with pytest.raises(ValueError, match="max_retries"):
        client.with_options(max_retries=2)
    assert client.with_options(timeout=3).retry_policy is client.retry_policy

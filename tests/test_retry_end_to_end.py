"""The fault matrix end to end: retries that never duplicate a promotion, rate limits,
deadlines and cancellation, all injected by FakeSevalla, with a fake clock."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Callable

import aiohttp
import pytest

from sevalla_async import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PromoteRequest,
    RateLimitError,
    RetryPolicy,
    SevallaClient,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault, RateLimit

from .helpers import eventually

NO_JITTER = RetryPolicy(jitter=lambda w: w)


def promotes(fake: FakeSevalla) -> int:
    return len(fake.requests_to("POST", "/promote"))


def gets(fake: FakeSevalla) -> int:
    return len(fake.requests_to("GET"))


# --- 429 -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_429_with_retry_after_is_retried_after_that_wait(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock, method: str
) -> None:
    pipeline = fake.add_pipeline()
    fake.inject(Fault.rate_limited(retry_after=7), method=method)
    if method == "POST":
        await client.pipelines.promote_request(pipeline.promote_request())
    else:
        await client.pipelines.get(pipeline.id)
    assert [r.status for r in fake.requests] == [429, 200]
    assert clock.sleeps == [7]


async def test_429_with_only_ratelimit_reset(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=None, reset=4))
    await client.pipelines.promote_request(request)
    assert promotes(fake) == 2
    assert 4 in clock.sleeps


async def test_429_with_http_date(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1)[0]
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    fake.inject(Fault.rate_limited(retry_after=when))
    await client.pipelines.promote_request(request)
    assert promotes(fake) == 2
    assert 18 <= clock.sleeps[-1] <= 21


async def test_429_over_the_cap_raises_at_once(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    client = make_client(max_rate_limit_wait=30)
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=120))
    with pytest.raises(RateLimitError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.retry_after == 120
    assert info.value.request_id == fake.requests[0].request_id
    assert promotes(fake) == 1
    assert clock.sleeps == []


# --- nothing sent ------------------------------------------------------------------------


@pytest.mark.sevalla_loopback
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_connection_refused_is_retried_for_both(
    make_client: Callable[..., SevallaClient], clock: FakeClock, method: str
) -> None:
    client = make_client(base_url="http://127.0.0.1:1/v3", max_retries=2)
    request = PromoteRequest(
        "fb5e5168-4281-4bec-94c5-0d1584e9e657",
        "11111111-1111-4111-8111-111111111111",
        ["22222222-2222-4222-9222-222222222222"],
    )
    call = (
        client.pipelines.promote_request(request)
        if method == "POST"
        else client.pipelines.get(request.pipeline_id)
    )
    with pytest.raises(APIConnectionError) as info:
        await call
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.request_sent is False
    assert info.value.attempts == 3
    assert len(clock.sleeps) == 2
    assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
    assert "127.0.0.1:1" in str(info.value)
    assert "after 3 attempts" in str(info.value)


@pytest.mark.sevalla_loopback
async def test_dns_failure_is_a_connection_error(
    make_client: Callable[..., SevallaClient],
) -> None:
    client = make_client(base_url="https://sevalla-async-test.invalid/v3", max_retries=1)
    with pytest.raises(APIConnectionError) as info:
        await client.pipelines.get("fb5e5168-4281-4bec-94c5-0d1584e9e657")
    assert info.value.request_sent is False
    assert info.value.attempts == 2


# --- 5xx ---------------------------------------------------------------------------------


async def test_get_5xx_is_retried(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    pipeline = fake.add_pipeline()
    fake.inject(Fault.error(503), times=2)
    got = await client.pipelines.get(pipeline.id)
    assert got.id == pipeline.id
    assert [r.status for r in fake.requests] == [503, 503, 200]
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_post_5xx_is_never_retried(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock, status: int
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    # The API made the promotion, then failed to answer.
    fake.inject(Fault(status=status, after_handling=True), times=5)
    with pytest.raises(InternalServerError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.status_code == status
    assert promotes(fake) == 1
    assert clock.sleeps == []
    started = [d for d in fake.state.deployments.values() if d.trigger == "PROMOTION"]
    assert len(started) == 2  # one deployment per target, never two


# --- lost after sending ------------------------------------------------------------------


async def test_post_dropped_after_acting_is_not_retried(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1, targets=3)[0]
    fake.inject(Fault.disconnect("after"), times=5)
    with pytest.raises(APIConnectionError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.request_sent is True
    assert promotes(fake) == 1
    started = [d for d in fake.state.deployments.values() if d.trigger == "PROMOTION"]
    assert len(started) == 3
    assert clock.sleeps == []


async def test_get_dropped_is_retried(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    pipeline = fake.add_pipeline()
    fake.inject(Fault.disconnect("before"))
    assert (await client.pipelines.get(pipeline.id)).id == pipeline.id
    assert gets(fake) == 2


async def test_post_timeout_after_send_is_not_retried(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    client = make_client(timeout=aiohttp.ClientTimeout(total=0.05))
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.slow(0.25), times=5)
    with pytest.raises(APITimeoutError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.request_sent is True
    assert promotes(fake) == 1


async def test_get_timeout_is_retried(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    client = make_client(timeout=aiohttp.ClientTimeout(total=0.05))
    pipeline = fake.add_pipeline()
    fake.inject(Fault.slow(0.25))
    assert (await client.pipelines.get(pipeline.id)).id == pipeline.id
    assert gets(fake) == 2


# --- other 4xx ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_other_4xx_raise_at_once(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock, method: str
) -> None:
    pipeline = fake.add_pipeline()
    fake.inject(Fault.error(400, "nope"), method=method)
    call = (
        client.pipelines.promote_request(pipeline.promote_request())
        if method == "POST"
        else client.pipelines.get(pipeline.id)
    )
    with pytest.raises(BadRequestError):
        await call
    assert len(fake.requests) == 1
    assert clock.sleeps == []


# --- limits of retrying ------------------------------------------------------------------


async def test_max_retries_counts_retries(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    client = make_client(max_retries=2)
    pipeline = fake.add_pipeline()
    fake.inject(Fault.error(503), times=10)
    with pytest.raises(InternalServerError) as info:
        await client.pipelines.get(pipeline.id)
    assert gets(fake) == 3
    assert info.value.attempts == 3


async def test_deadline_bounds_the_whole_call(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    client = make_client(timeout=10, retry_policy=RetryPolicy(max_retries=10, jitter=lambda w: w))
    pipeline = fake.add_pipeline()
    fake.inject(Fault.error(503), times=20)
    with pytest.raises(InternalServerError) as info:
        await client.pipelines.get(pipeline.id)
    # Waits 0.5, 1, 2, 4 fit in 10 s; the next (8 s) would start past the deadline.
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert info.value.attempts == 5
    assert "after 5 attempts" in str(info.value)
    assert gets(fake) == 5


async def test_429_wait_past_the_deadline_is_not_started(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    client = make_client(timeout=5)
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=10))
    with pytest.raises(RateLimitError):
        await client.pipelines.promote_request(request)
    assert clock.sleeps == []


# --- the adaptive hold -------------------------------------------------------------------


async def test_hold_prevents_429s_under_the_server_limit(clock: FakeClock) -> None:
    fake = FakeSevalla(clock=clock, write_limit=RateLimit(5, 60))
    if True:  # in memory: virtual time is exact, no start() needed
        requests = fake.promote_requests(23)
        async with SevallaClient(
            fake.api_key, transport=fake.transport(), sleep=clock.sleep, clock=clock, timeout=None
        ) as client:
            start = clock()
            results = await asyncio.gather(*(client.pipelines.promote_request(r) for r in requests))
        assert len(results) == 23
        statuses = [r.status for r in fake.requests]
        assert statuses.count(429) == 0
        assert statuses.count(200) == 23
        # 23 requests at 5 per minute need 5 windows: four waits for a reset.
        assert 240 <= clock() - start <= 250


@pytest.mark.sevalla_loopback
async def test_429s_without_hold_still_end_in_success(clock: FakeClock) -> None:
    """The server's limit is stricter than its headers say: 429s are retried."""
    async with FakeSevalla(clock=clock, write_limit=RateLimit(3, 10)) as fake:
        requests = fake.promote_requests(4)
        fake.inject(Fault.rate_limited(retry_after=2), times=2)
        async with SevallaClient(
            fake.api_key, base_url=fake.base_url, sleep=clock.sleep, clock=clock
        ) as client:
            for r in requests:
                await client.pipelines.promote_request(r)
        assert [r.status for r in fake.requests].count(200) == 4


# --- cancellation ------------------------------------------------------------------------


@pytest.mark.sevalla_loopback
async def test_cancel_during_retry_wait(fake: FakeSevalla) -> None:
    pipeline = fake.add_pipeline()
    fake.inject(Fault.error(503), times=5)
    sleeping = asyncio.Event()

    async def sleep_forever(seconds: float) -> None:
        sleeping.set()
        await asyncio.Event().wait()

    async with SevallaClient(fake.api_key, base_url=fake.base_url, sleep=sleep_forever) as c:
        task = asyncio.ensure_future(c.pipelines.get(pipeline.id))
        await sleeping.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert gets(fake) == 1


@pytest.mark.sevalla_loopback
async def test_cancel_in_flight_releases_the_connection(fake: FakeSevalla) -> None:
    pipeline = fake.add_pipeline()
    fake.inject(Fault.slow(0.2))
    async with SevallaClient(fake.api_key, base_url=fake.base_url, connection_limit=1) as c:
        task = asyncio.ensure_future(c.pipelines.get(pipeline.id))
        await eventually(lambda: fake.in_flight > 0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # With a pool of one, this would wait forever if the connection had leaked.
        got = await asyncio.wait_for(c.pipelines.get(pipeline.id), timeout=5)
    assert got.id == pipeline.id


async def test_not_found_is_not_retried(fake: FakeSevalla, client: SevallaClient) -> None:
    with pytest.raises(NotFoundError):
        await client.pipelines.get("fb5e5168-4281-4bec-94c5-0d1584e9e657")
    assert gets(fake) == 1

"""The client-side rate-limit hold is a RateLimitError (ClientRateLimitError: not sent),
and the rate-limit defaults agree with the timeout."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sevalla_async import (
    APITimeoutError,
    ClientRateLimitError,
    PromotionState,
    RateLimitError,
    RetryPolicy,
    SevallaClient,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


def promotes(fake: FakeSevalla) -> int:
    return len(fake.requests_to("POST", "/promote"))


async def test_hold_after_a_429_is_caught_as_rate_limit_error(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    first, second = fake.promote_requests(2)
    fake.inject(Fault.rate_limited(retry_after=120))
    with pytest.raises(RateLimitError) as replied:
        await client.pipelines.promote_request(first)
    assert not isinstance(replied.value, ClientRateLimitError)  # a real 429 reply
    assert replied.value.request_id is not None
    try:
        await client.pipelines.promote_request(second)
    except RateLimitError as caught:  # what users write
        held = caught
    else:
        pytest.fail("the held request did not raise")
    assert isinstance(held, ClientRateLimitError)
    assert not isinstance(held, APITimeoutError)
    assert promotes(fake) == 1  # nothing sent
    assert held.retry_after == pytest.approx(120, abs=0.5)
    assert held.status_code == 429
    assert held.request_id is None
    assert held.headers == {}
    assert held.body is None
    assert held.attempts == 0
    assert held.promotion_state is PromotionState.NOT_SENT
    assert held.sent_at is None
    assert "not sent" in str(held)
    assert clock.sleeps == []


async def test_a_held_read_is_not_sent_either(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    client = make_client(timeout=5)
    pipeline = fake.add_pipeline()
    fake.inject(Fault.rate_limited(retry_after=60), method="GET")
    with pytest.raises(RateLimitError):
        await client.pipelines.get(pipeline.id)
    with pytest.raises(ClientRateLimitError) as held:
        await client.pipelines.get(pipeline.id)
    assert held.value.promotion_state is None  # not a promote
    assert len(fake.requests) == 1


async def test_the_default_rate_limit_wait_is_the_timeout(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    """A Retry-After that fits in the call's timeout is waited for, however long."""
    client = make_client(timeout=120)
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=90))
    await client.pipelines.promote_request(request)
    assert clock.sleeps == [90]
    assert client.retry_policy.max_rate_limit_wait is None


async def test_a_retry_after_past_the_default_timeout_raises_at_once(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=45))  # over the default 30 s timeout
    with pytest.raises(RateLimitError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.retry_after == 45
    assert clock.sleeps == []


async def test_max_rate_limit_wait_bounds_the_hold_too(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    client = make_client(timeout=None, max_rate_limit_wait=10)
    first, second = fake.promote_requests(2)
    fake.inject(Fault.rate_limited(retry_after=30))
    with pytest.raises(RateLimitError):  # 30 s > 10 s: not waited
        await client.pipelines.promote_request(first)
    with pytest.raises(ClientRateLimitError) as held:  # and no hold of 30 s either
        await client.pipelines.promote_request(second)
    assert held.value.retry_after == pytest.approx(30, abs=0.5)
    assert clock.sleeps == []
    assert promotes(fake) == 1


async def test_a_hold_within_the_limits_is_waited(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    client = make_client(max_retries=0)  # timeout 30
    first, second = fake.promote_requests(2)
    fake.inject(Fault.rate_limited(retry_after=20))
    with pytest.raises(RateLimitError):
        await client.pipelines.promote_request(first)
    await client.pipelines.promote_request(second)
    assert clock.sleeps == [pytest.approx(20, abs=0.5)]


def test_max_rate_limit_wait_is_checked() -> None:
    with pytest.raises(ValueError, match="max_rate_limit_wait"):
        RetryPolicy(max_rate_limit_wait=-1)
    with pytest.raises(ValueError, match="max_rate_limit_wait"):
        SevallaClient("key", max_rate_limit_wait="60")  # type: ignore[arg-type]


def test_the_docstring_states_the_base_url_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = SevallaClient.__doc__ or ""
    assert "SEVALLA_BASE_URL" in doc
    assert "unset or empty" in doc
    monkeypatch.setenv("SEVALLA_BASE_URL", "http://127.0.0.1:9/v3/")
    assert SevallaClient("k").base_url == "http://127.0.0.1:9/v3"
    assert SevallaClient("k", base_url="https://eu.example/v3").base_url == (
        "https://eu.example/v3"
    )
    monkeypatch.setenv("SEVALLA_BASE_URL", "")
    assert SevallaClient("k").base_url == "https://api.sevalla.com/v3"
    monkeypatch.delenv("SEVALLA_BASE_URL")
    assert SevallaClient("k").base_url == "https://api.sevalla.com/v3"

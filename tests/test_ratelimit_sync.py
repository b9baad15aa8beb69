"""RateLimiter's synchronous paths: ``ready``, ``try_acquire`` and ``wait_ready`` (pure)."""

from __future__ import annotations

import asyncio

import pytest

from sevalla_async._protocol import RateLimitInfo
from sevalla_async._ratelimit import RateLimiter, RateLimitHoldError
from sevalla_async.testing import FakeClock


def _limiter() -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock(start=0.0)
    return RateLimiter(clock, clock.sleep), clock


def test_slow_start_then_an_unknown_budget_never_holds() -> None:
    limiter, _ = _limiter()
    assert limiter.ready("write")
    assert limiter.try_acquire("write")  # the first request goes alone...
    assert not limiter.ready("write")
    assert not limiter.try_acquire("write")  # ...until it ends
    limiter.release("write", None)  # no rate-limit headers: nothing to learn
    assert limiter.try_acquire("write")
    assert limiter.try_acquire("write")
    limiter.release("write", None)
    limiter.release("write", None)
    assert limiter.remaining("write") is None


async def test_waiters_of_the_slow_start_resume_when_the_first_reply_comes() -> None:
    limiter, clock = _limiter()
    assert limiter.try_acquire("write")
    waiters = [asyncio.create_task(limiter.acquire("write", None)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    limiter.release("write", RateLimitInfo(limit=10, remaining=9, reset=60.0))
    await asyncio.gather(*waiters)
    assert limiter.remaining("write") == 6
    assert clock.sleeps == []


def _learned(limiter: RateLimiter, bucket: str, limit: int, remaining: int, reset: float) -> None:
    assert limiter.try_acquire(bucket)
    limiter.release(bucket, RateLimitInfo(limit=limit, remaining=remaining, reset=reset))


def test_try_acquire_takes_the_budget_then_refuses_until_the_reset() -> None:
    limiter, clock = _limiter()
    _learned(limiter, "write", 3, 2, 10.0)
    assert limiter.try_acquire("write")
    assert limiter.try_acquire("write")
    assert limiter.remaining("write") == 0
    assert not limiter.ready("write")
    assert not limiter.try_acquire("write")  # nothing was taken
    assert limiter.remaining("write") == 0
    limiter.release("write", None)
    limiter.release("write", None)
    clock.advance(10.0)
    assert limiter.ready("write")
    assert limiter.try_acquire("write")  # a fresh window: limit minus this one
    assert limiter.remaining("write") == 2


def test_requests_in_flight_count_against_the_reported_budget() -> None:
    limiter, _ = _limiter()
    _learned(limiter, "write", 10, 9, 1.0)
    for _ in range(3):
        assert limiter.try_acquire("write")
    # A reply says 5 left; two requests are still on their way to the server.
    limiter.release("write", RateLimitInfo(limit=10, remaining=5, reset=1.0))
    assert limiter.remaining("write") == 3


def test_a_reset_window_counts_the_requests_still_in_flight() -> None:
    limiter, clock = _limiter()
    _learned(limiter, "write", 4, 3, 10.0)
    for _ in range(3):
        assert limiter.try_acquire("write")
    assert not limiter.try_acquire("write")  # spent
    clock.advance(10.0)
    # Three requests of the old window are still out: they may be counted in the new one.
    assert limiter.try_acquire("write")
    assert limiter.remaining("write") == 0
    assert not limiter.ready("write")  # spent, reset unknown, replies on their way


async def test_spent_with_an_unknown_reset_waits_for_the_next_reply() -> None:
    limiter, clock = _limiter()
    _learned(limiter, "write", 2, 1, 10.0)
    assert limiter.try_acquire("write")
    clock.advance(10.0)  # reset: remaining = 2 - 1 in flight
    assert limiter.try_acquire("write")
    waiter = asyncio.create_task(limiter.acquire("write", None))
    await asyncio.sleep(0)
    assert not waiter.done()
    # The reply: one left, minus the one still in flight: spent until the reset it names.
    limiter.release("write", RateLimitInfo(limit=2, remaining=1, reset=9.0))
    await waiter
    assert clock.sleeps == [9.0]


def test_spent_without_a_known_reset_lets_requests_through() -> None:
    limiter, _ = _limiter()
    _learned(limiter, "read", 1, 0, 5.0)
    state = limiter._buckets["read"]
    state.reset_at = None
    assert limiter.ready("read")
    assert limiter.try_acquire("read")


async def test_acquire_waits_for_the_reset_and_respects_the_deadline() -> None:
    limiter, clock = _limiter()
    _learned(limiter, "write", 1, 0, 30.0)
    with pytest.raises(RateLimitHoldError) as info:
        await limiter.acquire("write", deadline=clock() + 10.0)
    assert info.value.wait == 30.0
    assert clock.sleeps == []
    await limiter.acquire("write", deadline=clock() + 60.0)
    assert clock.sleeps == [30.0]


async def test_wait_ready_waits_without_taking_and_without_a_deadline() -> None:
    limiter, clock = _limiter()
    await limiter.wait_ready("write")  # unknown bucket: no wait
    _learned(limiter, "write", 2, 0, 120.0)
    await limiter.wait_ready("write")
    assert clock.sleeps == [120.0]
    assert limiter.remaining("write") == 2  # nothing was taken

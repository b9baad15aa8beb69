"""RateLimiter's synchronous paths: ``ready``, ``try_acquire`` and ``wait_ready`` (pure)."""

from __future__ import annotations

import asyncio

import pytest

from sevalla_async._rate_headers import RateLimitInfo
from sevalla_async._ratelimit import RateLimiter, RateLimitHoldError
from sevalla_async.testing import FakeClock


def _limiter() -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock(start=0.0)
    return RateLimiter(clock, clock.sleep), clock


def test_slow_start_then_an_unknown_budget_never_holds() -> None:
    limiter, _ = _limiter()
    assert limiter.ready("write")
    first = limiter.try_acquire("write")  # the first request goes alone...
    assert first == 1
    assert not limiter.ready("write")
    assert limiter.try_acquire("write") is None  # ...until it ends
    limiter.release("write", first, None, replied=True)  # no rate-limit headers
    second, third = limiter.try_acquire("write"), limiter.try_acquire("write")
    assert (second, third) == (2, 3)
    limiter.release("write", second, None, replied=True)
    limiter.release("write", third, None, replied=True)
    assert limiter.remaining("write") is None


async def test_waiters_of_the_slow_start_resume_when_the_first_reply_comes() -> None:
    limiter, clock = _limiter()
    first = limiter.try_acquire("write")
    assert first is not None
    waiters = [asyncio.create_task(limiter.acquire("write", None)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    limiter.release("write", first, RateLimitInfo(limit=10, remaining=9, reset=60.0), replied=True)
    await asyncio.gather(*waiters)
    assert limiter.remaining("write") == 6
    assert clock.sleeps == []


def _learned(limiter: RateLimiter, bucket: str, limit: int, remaining: int, reset: float) -> None:
    seq = limiter.try_acquire(bucket)
    assert seq is not None
    info = RateLimitInfo(limit=limit, remaining=remaining, reset=reset)
    limiter.release(bucket, seq, info, replied=True)


def test_try_acquire_takes_the_budget_then_refuses_until_the_reset() -> None:
    limiter, clock = _limiter()
    _learned(limiter, "write", 3, 2, 10.0)
    taken = [limiter.try_acquire("write"), limiter.try_acquire("write")]
    assert taken == [2, 3]
    assert limiter.remaining("write") == 0
    assert not limiter.ready("write")
    assert limiter.try_acquire("write") is None  # nothing was taken
    assert limiter.remaining("write") == 0
    for seq in taken:
        limiter.release("write", seq, None, replied=False)
    clock.advance(10.0)
    assert limiter.ready("write")
    assert limiter.try_acquire("write") is not None  # a fresh window: limit minus this one
    assert limiter.remaining("write") == 2


def test_requests_in_flight_count_against_the_reported_budget() -> None:
    limiter, _ = _limiter()
    _learned(limiter, "write", 10, 9, 1.0)
    seqs = [limiter.try_acquire("write") for _ in range(3)]
    assert seqs == [2, 3, 4]
    # The reply to the first says 5 left; the two sent after it are not counted yet.
    limiter.release("write", 2, RateLimitInfo(limit=10, remaining=5, reset=1.0), replied=True)
    assert limiter.remaining("write") == 3


def test_a_reset_window_counts_the_requests_still_in_flight() -> None:
    limiter, clock = _limiter()
    _learned(limiter, "write", 4, 3, 10.0)
    for _ in range(3):
        assert limiter.try_acquire("write") is not None
    assert limiter.try_acquire("write") is None  # spent
    clock.advance(10.0)
    # Three requests of the old window are still out: they may be counted in the new one.
    assert limiter.try_acquire("write") is not None
    assert limiter.remaining("write") == 0
    assert not limiter.ready("write")  # spent, reset unknown, replies on their way


async def test_spent_with_an_unknown_reset_waits_for_the_next_reply() -> None:
    limiter, clock = _limiter()
    _learned(limiter, "write", 2, 1, 10.0)
    older = limiter.try_acquire("write")
    assert older == 2
    clock.advance(10.0)  # reset: remaining = 2 - 1 in flight
    assert limiter.try_acquire("write") == 3
    waiter = asyncio.create_task(limiter.acquire("write", None))
    await asyncio.sleep(0)
    assert not waiter.done()
    # The older request's reply: one left, minus the one sent after it: spent until the
    # reset it names.
    limiter.release("write", older, RateLimitInfo(limit=2, remaining=1, reset=9.0), replied=True)
    await waiter
    assert clock.sleeps == [9.0]


def test_spent_without_a_known_reset_lets_requests_through() -> None:
    limiter, _ = _limiter()
    _learned(limiter, "read", 1, 0, 5.0)
    state = limiter._buckets["read"]
    state.reset_at = None
    assert limiter.ready("read")
    assert limiter.try_acquire("read") is not None


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

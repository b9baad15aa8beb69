"""The shared rate-limit budget (pure state, fake clock)."""

from __future__ import annotations

import asyncio

import pytest

from sevalla_async._rate_headers import RateLimitInfo
from sevalla_async._ratelimit import RateLimiter, RateLimitHoldError
from sevalla_async.testing import FakeClock


def info(remaining: int, reset: float = 10, limit: int = 5) -> RateLimitInfo:
    return RateLimitInfo(limit=limit, remaining=remaining, reset=reset)


async def test_unknown_budget_lets_one_probe_through(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, clock.sleep)
    first = await limiter.acquire("write", None)
    waiting = asyncio.ensure_future(limiter.acquire("write", None))
    await asyncio.sleep(0)
    assert not waiting.done()  # held until the probe's reply tells the budget
    limiter.release("write", first, info(3), replied=True)
    assert await waiting == 2
    assert clock.sleeps == []


async def test_spent_budget_holds_until_reset(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, clock.sleep)
    seq = await limiter.acquire("write", None)
    limiter.release("write", seq, info(1, reset=30), replied=True)
    seq = await limiter.acquire("write", None)  # the last unit
    limiter.release("write", seq, info(0, reset=30), replied=True)
    start = clock()
    await limiter.acquire("write", None)
    assert clock() - start == 30
    assert limiter.remaining("write") == 4  # the new window's limit, minus this request


async def test_in_flight_requests_sent_later_are_counted(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, clock.sleep)
    probe = await limiter.acquire("write", None)
    limiter.release("write", probe, info(10), replied=True)
    seqs = [await limiter.acquire("write", None) for _ in range(4)]
    # The reply to the first of the four says 9 left; three were sent after it.
    limiter.release("write", seqs[0], info(9), replied=True)
    assert limiter.remaining("write") == 6


async def test_hold_past_the_deadline_raises(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, clock.sleep)
    seq = await limiter.acquire("read", None)
    limiter.release("read", seq, info(0, reset=60), replied=True)
    with pytest.raises(RateLimitHoldError) as raised:
        await limiter.acquire("read", deadline=clock() + 10)
    assert raised.value.wait == 60
    assert clock.sleeps == []


async def test_buckets_are_independent(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, clock.sleep)
    seq = await limiter.acquire("write", None)
    limiter.release("write", seq, info(0, reset=60), replied=True)
    await limiter.acquire("read", None)
    assert clock.sleeps == []


async def test_server_without_headers_turns_the_hold_off(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, clock.sleep)
    seq = await limiter.acquire("read", None)
    limiter.release("read", seq, None, replied=True)
    seqs = [await limiter.acquire("read", None) for _ in range(50)]
    assert len(seqs) == 50


async def test_lost_probe_hands_over_to_the_next(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, clock.sleep)
    first = await limiter.acquire("write", None)
    second = asyncio.ensure_future(limiter.acquire("write", None))
    third = asyncio.ensure_future(limiter.acquire("write", None))
    await asyncio.sleep(0)
    limiter.release("write", first, None, replied=False)  # connection lost: learnt nothing
    for _ in range(5):
        await asyncio.sleep(0)
    assert second.done() != third.done()  # exactly one became the new probe
    new_probe = second if second.done() else third
    limiter.release("write", new_probe.result(), info(5), replied=True)
    await asyncio.gather(second, third)

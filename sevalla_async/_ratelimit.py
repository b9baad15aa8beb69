"""The client's view of the API's rate-limit budget, shared by all its concurrent calls.

Every reply carries ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (seconds). Reads and writes are limited separately, so the budget is
kept per bucket (``"read"`` for GET, ``"write"`` for the rest).

- Before each attempt a call takes one unit of its bucket's budget; when none is left it
  waits until the window resets instead of spending a request on a 429.
- A reply's ``remaining`` was computed when the server handled that request, so the
  requests sent after it and still in flight are not counted in it yet: the estimate
  subtracts them (requests are numbered as they are sent).
- Until the first reply of a bucket tells the budget, only one request of that bucket is
  in flight (a probe); the others wait for what it learns, so even the first burst of a
  large fan-out cannot overrun a small budget. A server that sends no rate-limit headers
  turns the hold off for that bucket.

The state changes only between awaits, so it is safe for any number of tasks in one loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ._protocol import RateLimitInfo

__all__ = ["RateLimitHoldError", "RateLimiter"]


class RateLimitHoldError(Exception):
    """Waiting for the budget would pass the call's deadline."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the rate-limit budget resets in {wait:.1f}s")
        self.wait = wait


class _Bucket:
    __slots__ = ("blind", "in_flight", "last_seq", "learned", "limit", "remaining", "reset_at")

    def __init__(self) -> None:
        self.limit: int | None = None
        self.remaining: int | None = None  # None: unknown
        self.reset_at: float | None = None
        self.in_flight = 0
        self.last_seq = 0
        self.blind = False  # the server sends no rate-limit headers: never hold
        self.learned: asyncio.Event | None = None  # set when the probe's reply arrives

    @property
    def known(self) -> bool:
        return self.remaining is not None or self.blind


class RateLimiter:
    """Per-bucket budgets fed by reply headers; :meth:`acquire` holds while one is spent."""

    def __init__(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[object]]
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}

    @property
    def in_flight(self) -> int:
        """Requests between :meth:`acquire` and :meth:`release`, all buckets together."""
        return sum(b.in_flight for b in self._buckets.values())

    def remaining(self, bucket: str) -> int | None:
        """The estimated budget left in ``bucket`` (``None`` when unknown)."""
        state = self._buckets.get(bucket)
        return None if state is None else state.remaining

    async def acquire(self, bucket: str, deadline: float | None) -> int:
        """Take one request from ``bucket``'s budget, waiting for it if needed.

        Returns the request's sequence number, to hand back to :meth:`release` (which
        must follow every successful ``acquire``). Raises :class:`RateLimitHoldError` when
        the budget resets only after ``deadline``.
        """
        state = self._buckets.get(bucket)
        if state is None:
            state = self._buckets[bucket] = _Bucket()
        while True:
            if not state.known and state.in_flight:
                # A probe is out: wait for the budget it brings back.
                if state.learned is None:
                    state.learned = asyncio.Event()
                await state.learned.wait()
                continue
            now = self._clock()
            if state.reset_at is not None and now >= state.reset_at:
                state.remaining = state.limit
                state.reset_at = None
            if state.remaining is None or state.remaining > 0 or state.reset_at is None:
                break
            wait = state.reset_at - now
            if deadline is not None and now + wait > deadline:
                raise RateLimitHoldError(wait)
            await self._sleep(wait)
        if state.remaining is not None:
            state.remaining -= 1
        state.in_flight += 1
        state.last_seq += 1
        return state.last_seq

    def release(self, bucket: str, seq: int, info: RateLimitInfo | None, *, replied: bool) -> None:
        """End request ``seq`` of ``bucket``; learn the budget from its reply, if any.

        ``replied`` tells whether a reply arrived at all (a reply without rate-limit
        headers turns the hold off; a lost connection teaches nothing).
        """
        state = self._buckets[bucket]
        state.in_flight -= 1
        if info is not None:
            if info.limit is not None:
                state.limit = info.limit
            state.remaining = info.remaining - (state.last_seq - seq)
            state.reset_at = self._clock() + info.reset
            state.blind = False
        elif replied and state.remaining is None:
            state.blind = True
        if state.learned is not None:
            state.learned.set()
            state.learned = None

"""The client's view of the API's rate-limit budget, shared by all its concurrent calls.

Every reply carries ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (seconds). Reads and writes are limited separately, so the budget is
kept per bucket. Before each attempt a call takes one unit of its bucket; when none is left
it waits until the window resets instead of spending a request on a 429. Requests already
in flight are counted against the budget the server reports, so a burst of concurrent calls
does not overrun it.

The state changes only between awaits, so it is safe for any number of tasks in one loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ._protocol import RateLimitInfo

__all__ = ["RateLimitHoldError", "RateLimiter"]


class RateLimitHoldError(Exception):
    """Waiting for the budget would pass the call's deadline."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the rate-limit budget resets in {wait:.1f}s")
        self.wait = wait


class _Bucket:
    __slots__ = ("in_flight", "limit", "remaining", "reset_at")

    def __init__(self) -> None:
        self.limit: int | None = None
        self.remaining: int | None = None  # None: unknown, do not hold
        self.reset_at: float | None = None
        self.in_flight = 0


class RateLimiter:
    """Per-bucket budgets fed by reply headers; :meth:`acquire` holds while one is spent."""

    def __init__(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[object]]
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}

    def remaining(self, bucket: str) -> int | None:
        """The estimated budget left in ``bucket`` (``None`` when unknown)."""
        state = self._buckets.get(bucket)
        return None if state is None else state.remaining

    async def wait_ready(self, bucket: str) -> None:
        """Wait, without a deadline and without taking anything, until ``bucket`` has
        budget left (or an unknown one).

        A fan-out calls it before starting each call, so time spent queueing behind the
        rate limit does not count against the call's own timeout.
        """
        state = self._buckets.get(bucket)
        if state is None:
            return
        while True:
            now = self._clock()
            if state.reset_at is not None and now >= state.reset_at:
                state.remaining = state.limit
                state.reset_at = None
            if state.remaining is None or state.remaining > 0 or state.reset_at is None:
                return
            await self._sleep(state.reset_at - now)

    async def acquire(self, bucket: str, deadline: float | None) -> None:
        """Take one request from ``bucket``'s budget, waiting for the reset if it is spent.

        Raises :class:`RateLimitHoldError` when the reset comes after ``deadline``. Every
        ``acquire`` must be followed by one :meth:`release`.
        """
        state = self._buckets.get(bucket)
        if state is None:
            state = self._buckets[bucket] = _Bucket()
        while True:
            now = self._clock()
            if state.reset_at is not None and now >= state.reset_at:
                state.remaining = state.limit
                state.reset_at = None
            if state.remaining is None or state.remaining > 0:
                break
            if state.reset_at is None:  # spent, and no idea when it resets: let it through
                break
            wait = state.reset_at - now
            if deadline is not None and now + wait > deadline:
                raise RateLimitHoldError(wait)
            await self._sleep(wait)
        if state.remaining is not None:
            state.remaining -= 1
        state.in_flight += 1

    def release(self, bucket: str, info: RateLimitInfo | None) -> None:
        """End one request of ``bucket``, learning the budget from its reply if any."""
        state = self._buckets[bucket]
        state.in_flight -= 1
        if info is None:
            return
        if info.limit is not None:
            state.limit = info.limit
        # The server has not counted the requests still in flight: count them for it.
        state.remaining = info.remaining - state.in_flight
        state.reset_at = self._clock() + info.reset

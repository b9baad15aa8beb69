"""The client's view of the API's rate-limit budget, shared by all its concurrent calls.

Every reply carries ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (seconds). Reads and writes are limited separately, so the budget is
kept per bucket (``"read"`` for GET, ``"write"`` for the rest).

- Before each attempt a call takes one unit of its bucket's budget; when none is left it
  waits until the window resets instead of spending a request on a 429.
- Requests are numbered as they are sent. A reply's ``remaining`` was computed when the
  server handled that request, so the requests sent after it and still on their way are
  not counted in it yet: the estimate subtracts them.
- When the client does not know enough, it waits for a reply on its way rather than guess:
  while a bucket's budget is unknown its first request goes alone (slow start: one round
  trip, instead of a burst that may overrun a small budget), and when the budget is spent
  with no known reset, the next reply tells.
- When a window resets, the requests still in flight may be counted in the new one, so
  they are taken from its budget.
- A server that sends no rate-limit headers turns the hold off for that bucket.
- No hold lasts longer than ``max_wait`` (the client's ``max_rate_limit_wait``) or past the
  call's deadline: a reset further away makes :meth:`RateLimiter.acquire` raise at once,
  as a 429 asking for that long would.

The state changes only between awaits, so it is safe for any number of tasks in one loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ._rate_headers import RateLimitInfo

__all__ = ["RateLimitHoldError", "RateLimiter"]


class RateLimitHoldError(Exception):
    """Waiting for the budget would pass the call's deadline, or ``max_wait``."""

    def __init__(self, wait: float, why: str = "after the call's timeout") -> None:
        super().__init__(f"the rate-limit budget resets in {wait:.1f}s, {why}")
        self.wait = wait


class _Bucket:
    __slots__ = (
        "in_flight",
        "last_seq",
        "learned",
        "limit",
        "remaining",
        "reply",
        "reset_at",
    )

    def __init__(self) -> None:
        self.limit: int | None = None
        self.remaining: int | None = None  # None: unknown
        self.reset_at: float | None = None
        self.in_flight = 0
        self.last_seq = 0
        self.learned = False  # a reply has ended slow start
        self.reply: asyncio.Future[None] | None = None  # resolved by the next release


class RateLimiter:
    """Per-bucket budgets fed by reply headers; :meth:`acquire` holds while one is spent."""

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        *,
        max_wait: float = float("inf"),
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait
        self._buckets: dict[str, _Bucket] = {}

    @property
    def in_flight(self) -> int:
        """Requests between acquire and release, all buckets together."""
        return sum(b.in_flight for b in self._buckets.values())

    def remaining(self, bucket: str) -> int | None:
        """The estimated budget left in ``bucket`` (``None`` when unknown)."""
        state = self._buckets.get(bucket)
        return None if state is None else state.remaining

    def limit(self, bucket: str) -> int | None:
        """The requests a window allows in ``bucket``, as the last reply's
        ``x-ratelimit-limit`` said (``None`` until a reply tells)."""
        state = self._buckets.get(bucket)
        return None if state is None else state.limit

    def _state(self, bucket: str) -> _Bucket:
        state = self._buckets.get(bucket)
        if state is None:
            state = self._buckets[bucket] = _Bucket()
        if state.reset_at is not None and self._clock() >= state.reset_at:
            # The window has reset; requests in flight may land in the new one.
            state.remaining = None if state.limit is None else state.limit - state.in_flight
            state.reset_at = None
        return state

    def ready(self, bucket: str) -> bool:
        """True when a request of ``bucket`` would not be held right now."""
        state = self._state(bucket)
        if not state.learned:
            return state.in_flight == 0  # slow start: the first request finds the budget
        remaining = state.remaining
        if remaining is None or remaining > 0:
            return True
        # Spent. With no known reset, a reply in flight will tell; with none, go ahead
        # (the server will say).
        return state.reset_at is None and state.in_flight == 0

    async def _hold(self, state: _Bucket) -> None:
        """Wait for what keeps ``state`` from being ready: the reset when it is known,
        else the next reply of a request in flight."""
        reset_at = state.reset_at
        if reset_at is not None:
            await self._sleep(reset_at - self._clock())
            return
        if state.reply is None:
            state.reply = asyncio.get_running_loop().create_future()
        await asyncio.shield(state.reply)

    async def wait_ready(self, bucket: str, max_wait: float | None = None) -> None:
        """Wait, without a deadline and without taking anything, until ``bucket`` has
        budget left (or an unknown one); return at once when the reset is more than
        ``max_wait`` seconds away (default: the limiter's own bound).

        A fan-out calls it before starting each call, so time spent queueing behind the
        rate limit does not count against the call's own timeout.
        """
        limit = self._max_wait if max_wait is None else max_wait
        while not self.ready(bucket):
            if self._too_far(self._buckets[bucket], limit):
                return  # acquire() refuses such a hold at once; don't wait for it here
            await self._hold(self._buckets[bucket])

    def _too_far(self, state: _Bucket, limit: float) -> bool:
        reset_at = state.reset_at
        return reset_at is not None and reset_at - self._clock() > limit

    def try_acquire(self, bucket: str) -> int | None:
        """Take one request from ``bucket`` if that needs no wait, returning its sequence
        number; ``None`` when it would have to wait (then :meth:`acquire` waits).

        Synchronous, so the usual case costs no coroutine. Every successful take must be
        followed by one :meth:`release` with the number it returned.
        """
        if not self.ready(bucket):
            return None
        state = self._buckets[bucket]
        if state.remaining is not None:
            state.remaining -= 1
        state.in_flight += 1
        state.last_seq += 1
        return state.last_seq

    async def acquire(self, bucket: str, deadline: float | None) -> int:
        """Take one request from ``bucket``'s budget, waiting for it if needed; returns
        its sequence number for :meth:`release`.

        Raises :class:`RateLimitHoldError` when the reset comes after ``deadline`` or more
        than ``max_wait`` from now.
        """
        while (seq := self.try_acquire(bucket)) is None:
            state = self._buckets[bucket]
            reset_at = state.reset_at
            if reset_at is not None and deadline is not None and reset_at > deadline:
                raise RateLimitHoldError(reset_at - self._clock())
            if self._too_far(state, self._max_wait):
                raise RateLimitHoldError(
                    reset_at - self._clock() if reset_at is not None else 0.0,
                    f"more than max_rate_limit_wait ({self._max_wait:g}s)",
                )
            await self._hold(state)  # a reply in flight is bounded by its own timeout
        return seq

    def release(self, bucket: str, seq: int, info: RateLimitInfo | None, *, replied: bool) -> None:
        """End request ``seq`` of ``bucket``; learn the budget from its reply, if any.

        ``replied`` tells whether a reply arrived at all: one without rate-limit headers
        ends the slow start with the budget still unknown (no hold); a lost connection
        teaches nothing, so the next request probes again.
        """
        state = self._buckets[bucket]
        state.in_flight -= 1
        if replied:
            state.learned = True
        if info is not None:
            if info.limit is not None:
                state.limit = info.limit
            # Requests sent after this one are not in the server's count yet.
            state.remaining = info.remaining - (state.last_seq - seq)
            state.reset_at = self._clock() + info.reset
        if state.reply is not None:  # wake whoever waited for this news
            state.reply.set_result(None)
            state.reply = None

"""A fake clock: pass ``sleep=clock.sleep, clock=clock`` to a client so nothing waits."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

__all__ = ["WALL_EPOCH", "FakeClock"]

WALL_EPOCH = 1_767_225_600.0
"""2026-01-01T00:00:00Z: :meth:`FakeClock.wall` is this plus the clock's reading."""


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it (virtual time).

    ``await clock.sleep(5)`` returns without waiting for real, with the clock 5 s later
    than when the sleep began; ``clock()`` reads it; :attr:`sleeps` lists every wait asked
    for. Sleeps behave as in real time relative to each other: concurrent sleepers wake in
    the order of their wake-up times, and ten tasks sleeping 60 s together move the clock
    60 s, not 600 s.

    Give the same clock to :class:`FakeSevalla` so its rate-limit windows move with it.

    Args:
        start: the initial reading.
        busy: optional; while it returns true, no sleeper wakes: real I/O under way
            finishes first, so that a request already on its way is not seen to arrive
            minutes later. Only needed over loopback: with :meth:`FakeSevalla.transport`
            nothing is on a wire and virtual time is exact. Over loopback it must count the
            client's requests from the moment they are sent, not only those the fake is
            handling (``fake.in_flight``): a request still in the client's connection pool
            is on its way too. The ``sevalla_client`` pytest fixture does so under
            ``@pytest.mark.sevalla_loopback``.
    """

    def __init__(self, start: float = 1000.0, *, busy: Callable[[], bool] | None = None) -> None:
        self.now: float = start
        self.sleeps: list[float] = []
        self.busy = busy
        self._pending: list[tuple[float, int]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Return once every sleeper due earlier has woken and no I/O is under way."""
        self.sleeps.append(seconds)
        ticket = (self.now + max(0.0, seconds), next(self._order))
        self._pending.append(ticket)
        try:
            await asyncio.sleep(0)  # let the tasks sleeping alongside register too
            while True:
                io_under_way = self.busy is not None and self.busy()
                if min(self._pending) == ticket and not io_under_way:
                    break
                # Real I/O or an earlier sleeper is still running: give it the loop.
                await asyncio.sleep(0.0005 if io_under_way else 0)
        finally:
            self._pending.remove(ticket)
        self.now = max(self.now, ticket[0])

    def wall(self) -> float:
        """A matching Unix time: a fixed epoch (2026-01-01T00:00:00Z) plus the reading.
        Give it to a client as ``wall_clock`` (:class:`FakeSevalla` picks it up itself)."""
        return WALL_EPOCH + self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward without sleeping."""
        self.now += seconds

    @property
    def slept(self) -> float:
        """The total of every wait so far."""
        return sum(self.sleeps)

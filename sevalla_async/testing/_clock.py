"""A fake clock: pass ``sleep=clock.sleep, clock=clock`` to a client so nothing waits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["FakeClock"]


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it.

    ``await clock.sleep(5)`` returns at once (after yielding to the loop) with the clock
    at least 5 s later than when the sleep began; ``clock()`` reads it; :attr:`sleeps`
    lists every wait asked for. Concurrent sleeps overlap as they would in real time:
    ten tasks sleeping 60 s together move the clock 60 s, not 600 s.

    Give the same clock to :class:`FakeSevalla` so its rate-limit windows move with it.

    Args:
        start: the initial reading.
        busy: optional; while it returns true, a sleep lets real I/O finish before moving
            the clock (e.g. ``lambda: fake.in_flight > 0``), so that requests already on
            their way are not seen to arrive minutes later.
    """

    def __init__(self, start: float = 1000.0, *, busy: Callable[[], bool] | None = None) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.busy = busy

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake = self.now + max(0.0, seconds)
        await asyncio.sleep(0)  # let the tasks sleeping alongside start their sleeps too
        if self.busy is not None:
            for _ in range(5000):  # at most ~5 s of real time for I/O already under way
                if not self.busy():
                    break
                await asyncio.sleep(0.001)
        self.now = max(self.now, wake)

    def advance(self, seconds: float) -> None:
        """Move the clock forward without sleeping."""
        self.now += seconds

    @property
    def slept(self) -> float:
        """The total of every wait so far."""
        return sum(self.sleeps)

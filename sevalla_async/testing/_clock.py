"""A fake clock: pass ``sleep=clock.sleep, clock=clock`` to a client so nothing waits."""

from __future__ import annotations

import asyncio

__all__ = ["FakeClock"]


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it.

    ``await clock.sleep(5)`` returns at once (after yielding to the loop) and moves the
    clock 5 s forward; ``clock()`` reads it; :attr:`sleeps` lists every wait asked for.
    Give the same clock to :class:`FakeSevalla` so its rate-limit windows move with it.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Record the wait, move the clock forward, and only yield to the event loop."""
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move the clock forward without sleeping."""
        self.now += seconds

    @property
    def slept(self) -> float:
        """The total of every wait so far."""
        return sum(self.sleeps)

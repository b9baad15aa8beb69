"""Pacing the polls of one client's waits to a share of its read budget."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol

__all__ = ["ASSUMED_READ_LIMIT", "PollPacer", "ReadBudget"]

ASSUMED_READ_LIMIT = 400
"""Reads a minute assumed before a reply's ``x-ratelimit-limit`` tells (Sevalla's limit)."""


class ReadBudget(Protocol):
    """What waiting needs of the client's rate limiter: the limit a bucket learned."""

    def limit(self, bucket: str) -> int | None:
        """Requests a window allows in ``bucket`` (``None`` until a reply tells)."""
        ...


class PollPacer:
    """Paces the polls of one client's waits to a share of its read budget.

    ``limit()`` gives the read budget learned from the API (``None``: assume
    :data:`ASSUMED_READ_LIMIT`); :attr:`per_minute`, when set, caps the polls a minute
    further (``Deployments.max_polls_per_minute``). Shared by every wait of the client.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        limit: Callable[[], int | None],
        per_minute: int | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._next = -math.inf
        self.active: int = 0
        self.per_minute = per_minute

    @property
    def per_minute(self) -> int | None:
        """A cap on the polls started a minute, over the share (``None``: the share only)."""
        return self._per_minute

    @per_minute.setter
    def per_minute(self, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(
                f"max_polls_per_minute: must be an integer >= 1 or None, got {value!r}"
            )
        self._per_minute = value

    def rate(self, share: float) -> float:
        """Polls a minute all waits together may start with this ``share`` of the budget."""
        learned = self._limit()
        limit = ASSUMED_READ_LIMIT if learned is None or learned < 1 else learned
        rate = max(1.0, share * limit)
        return rate if self._per_minute is None else min(rate, float(self._per_minute))

    def fair_interval(self, share: float) -> float:
        """Seconds between two polls of one deployment so that the active waits together
        stay within the share."""
        return 60.0 * max(1, self.active) / self.rate(share)

    @contextlib.contextmanager
    def active_wait(self) -> Iterator[None]:
        """Count one wait as active while the block runs."""
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    async def acquire(self, share: float, deadline: float | None) -> bool:
        """Wait for this poll's turn; ``False`` (without waiting) when the turn comes at or
        after ``deadline``."""
        now = self._clock()
        start = max(now, self._next)
        if deadline is not None and start >= deadline:
            return False
        self._next = start + 60.0 / self.rate(share)
        if start > now:
            await self._sleep(start - now)
        return True

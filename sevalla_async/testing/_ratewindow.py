"""The fake's rate limits: a fixed window of requests on the fake's clock."""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

__all__ = ["RateLimit", "Window"]


@attrs.frozen
class RateLimit:
    """A fixed-window limit: ``requests`` per ``window`` seconds."""

    requests: int
    window: float = 60.0


class Window:
    """One fixed-window counter on the fake's clock."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self.start = clock()
        self.used = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        if now >= self.start + self.limit.window:
            self.start += self.limit.window * math.floor((now - self.start) / self.limit.window)
            self.used = 0
        allowed = self.used < self.limit.requests
        if allowed:
            self.used += 1
        reset = max(0, math.ceil(self.start + self.limit.window - now))
        headers = {
            "x-ratelimit-limit": str(self.limit.requests),
            "x-ratelimit-remaining": str(self.limit.requests - self.used),
            "x-ratelimit-reset": str(reset),
        }
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers

"""Small helpers for the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(predicate: Callable[[], bool], *, limit: float = 5.0) -> None:
    """Wait (real time, bounded) until ``predicate()`` holds: for I/O under way, such as a
    request reaching the fake server. Fails the test past ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)

"""pytest fixtures for testing code that uses sevalla-async (loaded automatically).

- ``sevalla_fake``: a started :class:`~sevalla_async.testing.FakeSevalla`.
- ``sevalla_client``: a :class:`~sevalla_async.SevallaClient` bound to it, with a
  :class:`~sevalla_async.testing.FakeClock` so retries and waits take no real time
  (the clock is ``sevalla_clock``).

They are async fixtures: the test suite needs an asyncio pytest plugin (pytest-asyncio,
or anyio in asyncio mode). Nothing here is imported unless a test asks for a fixture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .. import SevallaClient
    from . import FakeClock, FakeSevalla


def _async_fixture(func: Any) -> Any:
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - anyio or another plugin drives it
        return pytest.fixture(func)
    return pytest_asyncio.fixture(func)


@pytest.fixture
def sevalla_clock() -> FakeClock:
    """The fake clock shared by ``sevalla_fake`` and ``sevalla_client``."""
    from . import FakeClock

    return FakeClock()


@_async_fixture
async def sevalla_fake(sevalla_clock: FakeClock) -> AsyncIterator[FakeSevalla]:
    """A started FakeSevalla on 127.0.0.1, stopped after the test."""
    from . import FakeSevalla

    async with FakeSevalla(clock=sevalla_clock) as fake:
        yield fake


@_async_fixture
async def sevalla_client(
    sevalla_fake: FakeSevalla, sevalla_clock: FakeClock
) -> AsyncIterator[SevallaClient]:
    """A SevallaClient bound to ``sevalla_fake``; closed after the test."""
    from .. import SevallaClient

    async with SevallaClient(
        sevalla_fake.api_key,
        base_url=sevalla_fake.base_url,
        sleep=sevalla_clock.sleep,
        clock=sevalla_clock,
    ) as client:
        # Virtual time passes only while no request of the client is on the wire.
        sevalla_clock.busy = lambda: client._limiter.in_flight > 0
        yield client

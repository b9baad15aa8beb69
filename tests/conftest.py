"""Shared fixtures. The package's own pytest plugin (sevalla_async.testing.pytest_plugin)
provides ``sevalla_fake``, ``sevalla_client`` and ``sevalla_clock``; these add shorter names
and a few builders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sevalla_async import SevallaClient
from sevalla_async.testing import FakeClock, FakeSevalla


@pytest.fixture
def clock(sevalla_clock: FakeClock) -> FakeClock:
    return sevalla_clock


@pytest.fixture
def fake(sevalla_fake: FakeSevalla) -> FakeSevalla:
    return sevalla_fake


@pytest.fixture
def client(sevalla_client: SevallaClient) -> SevallaClient:
    return sevalla_client


@pytest.fixture
async def make_client(
    fake: FakeSevalla, clock: FakeClock
) -> AsyncIterator[Callable[..., SevallaClient]]:
    """Build extra clients bound to the fake (closed after the test)."""
    made: list[SevallaClient] = []

    def build(**options: Any) -> SevallaClient:
        options.setdefault("base_url", fake.base_url)
        options.setdefault("sleep", clock.sleep)
        options.setdefault("clock", clock)
        options.setdefault("wall_clock", clock.wall)
        c = SevallaClient(options.pop("api_key", fake.api_key), **options)
        made.append(c)
        return c

    yield build
    for c in made:
        await c.aclose()

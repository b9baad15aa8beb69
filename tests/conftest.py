"""Shared fixtures. The package's own pytest plugin (sevalla_async.testing.pytest_plugin)
provides ``sevalla_fake``, ``sevalla_client`` and ``sevalla_clock``; these add shorter names
and a few builders."""

from __future__ import annotations

from collections.abc import Callable

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
def make_client(
    sevalla_client_factory: Callable[..., SevallaClient],
) -> Callable[..., SevallaClient]:
    """Build extra clients bound to the fake (in memory, or over loopback with
    ``@pytest.mark.sevalla_loopback``; closed after the test)."""
    return sevalla_client_factory

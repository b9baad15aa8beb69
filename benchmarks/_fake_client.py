"""A client wired to a FakeSevalla and its FakeClock (virtual time), for the scripts here."""

from __future__ import annotations

from typing import Any

from sevalla_async import SevallaClient
from sevalla_async.testing import FakeClock, FakeSevalla


def fake_client(fake: FakeSevalla, clock: FakeClock, **options: Any) -> SevallaClient:
    """A client of ``fake`` served in memory (``fake.transport()``: no socket, so virtual
    time is exact) whose waits, timeouts and ``sent_at`` use ``clock``."""
    return SevallaClient(
        fake.api_key,
        transport=fake.transport(),
        sleep=clock.sleep,
        clock=clock,
        wall_clock=clock.wall,
        **options,
    )

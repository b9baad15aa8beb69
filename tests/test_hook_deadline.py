"""Issue 21, item 3: event hooks run under the call's deadline. An ``async`` hook that
never returns is cancelled at the deadline and logged, naming it; it never hangs
``promote`` or ``promote_many``. A request hook's overrun stops the call before anything
is sent (``not_sent``); a response hook's overrun after a 200 leaves the promotion's
result as it is (the API acted: raising would make the caller think it failed).

All on the fake clock: the deadline passes in virtual time, nothing waits for real (the
``asyncio.wait_for`` guards only turn a hang of the old code into a failure).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from sevalla_async import (
    APITimeoutError,
    PromotionState,
    RequestEvent,
    ResponseEvent,
    SevallaClient,
)
from sevalla_async.testing import FakeClock, FakeSevalla

GUARD = 10  # real seconds; only reached by a call that hangs


class Hang:
    """An async hook that never returns (until cancelled, which it records)."""

    def __init__(self) -> None:
        self.calls = 0
        self.cancelled = 0
        self.__qualname__ = "Hang.forever"  # what the log names

    async def __call__(self, event: RequestEvent | ResponseEvent) -> None:
        self.calls += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def warnings_naming(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and f"event hook {name} was still running" in r.getMessage()
    ]


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sevalla_async")


async def test_a_request_hook_that_hangs_times_the_promote_out_before_sending(
    fake: FakeSevalla,
    make_client: Callable[..., SevallaClient],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hang = Hang()
    client = make_client(timeout=1, event_hooks={"request": [hang]})
    request = fake.promote_requests(1)[0]
    start = clock()
    with pytest.raises(APITimeoutError) as info:
        await asyncio.wait_for(client.pipelines.promote_request(request), GUARD)
    error = info.value
    assert error.request_sent is False
    assert error.promotion_state == PromotionState.NOT_SENT
    assert error.sent_at is None
    assert "Hang.forever" in str(error)
    assert fake.requests == []  # the request never left
    assert clock() - start == pytest.approx(1)  # the call's timeout, in virtual time
    assert warnings_naming(caplog, "Hang.forever")
    await asyncio.sleep(0)
    assert hang.cancelled == hang.calls == 1


async def test_a_response_hook_that_hangs_after_a_200_returns_the_promotion(
    fake: FakeSevalla,
    make_client: Callable[..., SevallaClient],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hang = Hang()
    client = make_client(timeout=1, event_hooks={"response": [hang]})
    request = fake.promote_requests(1, targets=2)[0]
    start = clock()
    promotions = await asyncio.wait_for(client.pipelines.promote_request(request), GUARD)
    assert [p.target_app_id for p in promotions] == list(request.target_app_ids)
    assert len(fake.requests) == 1
    assert clock() - start == pytest.approx(1)
    (warning,) = warnings_naming(caplog, "Hang.forever")
    assert "POST /pipelines/{id}/promote" in warning
    await asyncio.sleep(0)
    assert hang.cancelled == 1


@pytest.mark.parametrize("event", ["request", "response"])
async def test_promote_many_with_a_hook_that_hangs_never_hangs(
    fake: FakeSevalla,
    make_client: Callable[..., SevallaClient],
    caplog: pytest.LogCaptureFixture,
    event: str,
) -> None:
    hang = Hang()
    client = make_client(timeout=1, event_hooks={event: [hang]})
    requests = fake.promote_requests(3)
    outcomes = await asyncio.wait_for(client.pipelines.promote_many(requests, concurrency=2), GUARD)
    states = [o.state for o in outcomes]
    if event == "request":
        assert states == [PromotionState.NOT_SENT] * 3
        assert all(isinstance(o.error, APITimeoutError) for o in outcomes)
        assert fake.requests == []
    else:
        assert states == [PromotionState.PROMOTED] * 3
        assert len(fake.requests) == 3
    assert len(warnings_naming(caplog, "Hang.forever")) == 3


async def test_a_quick_async_hook_is_not_cut_and_takes_no_virtual_time(
    fake: FakeSevalla,
    make_client: Callable[..., SevallaClient],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Any] = []

    async def quick(event: RequestEvent | ResponseEvent) -> None:
        await asyncio.sleep(0)  # a couple of turns of the loop, no time
        await asyncio.sleep(0)
        seen.append(event)

    client = make_client(timeout=1, event_hooks={"request": [quick], "response": [quick]})
    start = clock()
    await client.pipelines.promote_request(fake.promote_requests(1)[0])
    assert len(seen) == 2
    assert clock() == start
    assert caplog.records == []


async def test_no_deadline_leaves_hooks_unbounded_and_the_late_event_reported(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    """A slow response hook with ``timeout=None`` is awaited to its end; and response hooks
    of an attempt whose request hook ran out the time still see that attempt's error."""
    events: list[ResponseEvent] = []

    async def slow(event: ResponseEvent) -> None:
        await clock.sleep(120)
        events.append(event)

    client = make_client(timeout=None, event_hooks={"response": [slow]})
    await client.pipelines.promote_request(fake.promote_requests(1)[0])
    assert len(events) == 1
    late = make_client(timeout=1, event_hooks={"request": [Hang()], "response": [events.append]})
    with pytest.raises(APITimeoutError):
        await asyncio.wait_for(late.pipelines.promote_request(fake.promote_requests(1)[0]), GUARD)
    assert isinstance(events[-1].error, APITimeoutError)
    assert events[-1].status_code is None

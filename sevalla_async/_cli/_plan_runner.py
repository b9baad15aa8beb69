"""Run a validated plan on the SDK's fan-out (``client.pipelines.promote_iter``): promote
every request (and, with ``--wait``, wait for its deployments) with bounded concurrency,
results as they come, as the CLI's :class:`PlanOutcome`.

A journal that cannot record an entry as sent stops the run sending (see :func:`run_plan`).

What the CLI reports on Ctrl-C comes from the same run: ``on_start(index)`` is called as
the fan-out pulls each entry from the plan (just before it is sent), so "started but not
finished" is exactly what was in flight; with ``--wait`` the SDK's
``on_poll(index, deployment)`` tells which of those were promoted and being waited for.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import Any

import attrs

from .. import (
    Deployment,
    FanoutLedger,
    PromoteOutcome,
    PromoteRequest,
    Promotion,
    PromotionState,
    SevallaClient,
    SevallaError,
    WaitAllError,
)
from ._journal import JournalWriteError
from ._output import clean_text
from ._waiting import (
    DEFAULT_POLL_INTERVAL,
    Waited,
    WaitFlags,
    mark_current,
    waited_from_deployments,
    waited_from_error,
)

__all__ = ["OnEntryPoll", "PlanOutcome", "run_plan"]

OnEntryPoll = Callable[[int, Deployment], object]
"""Called with the plan index and every deployment a poll of that entry returns."""


@attrs.frozen
class PlanOutcome:
    """What one entry of a plan came to.

    ``promotions`` is set once the API accepted the promotion, ``error`` when an API call
    failed (for ``--wait``, a :class:`WaitAllError` when some deployment could not be
    waited for to the end). ``waited`` holds each deployment's final (or last seen) state
    when the run waits and the promotion was accepted; ``None`` otherwise. ``state`` is
    the promotion's :class:`PromotionState`, ``sent_at`` when its request left.
    ``recorded`` is set for an entry a resumed run took from its journal instead of sending
    it (``recorded_error``: an error as data, the journal's or the reconciliation's).
    """

    index: int
    request: PromoteRequest
    promotions: list[Promotion] | None = None
    error: SevallaError | None = None
    waited: list[Waited] | None = None
    state: PromotionState | None = None
    sent_at: datetime | None = None
    recorded: bool = False
    recorded_error: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Promoted, and (when waited for) every deployment ended with ``success``."""
        if self.error is not None or self.recorded_error is not None or self.promotions is None:
            return False
        return self.waited is None or all(w.succeeded for w in self.waited)


def plan_outcome(outcome: PromoteOutcome) -> PlanOutcome:
    """The CLI's view of one outcome of the SDK's fan-out. An error that is not an API
    error (a bug: the plan was validated before) is raised."""
    error = outcome.error
    if error is not None and not isinstance(error, SevallaError):
        raise error
    request = outcome.request
    assert isinstance(request, PromoteRequest)  # the plan was validated
    waited: list[Waited] | None = None
    if isinstance(error, WaitAllError):
        waited = waited_from_error(error)
    elif outcome.deployments is not None:
        waited = waited_from_deployments(outcome.deployments, request.target_app_ids)
    if waited is not None:
        waited = mark_current(waited, outcome.promotions)
    return PlanOutcome(
        outcome.index,
        request,
        outcome.promotions,
        error,
        waited,
        state=outcome.state,
        sent_at=outcome.sent_at,
    )


class _Marking:
    """The plan, calling ``on_start(index)`` as the fan-out pulls each entry. When
    ``on_start`` raises :class:`JournalWriteError` (the entry's ``sent`` line could not be
    written), the plan ends there: that entry and every later one are not sent
    (``stopped``: from which index, and why)."""

    def __init__(self, requests: Sequence[PromoteRequest], on_start: Callable[[int], None]):
        self._requests = requests
        self._on_start = on_start
        self.stopped: tuple[int, JournalWriteError] | None = None

    def __iter__(self) -> Iterator[PromoteRequest]:
        for index, request in enumerate(self._requests):
            try:
                self._on_start(index)
            except JournalWriteError as exc:
                self.stopped = (index, exc)
                return
            yield request

    def not_sent(self) -> Iterator[PlanOutcome]:
        """A ``not_sent`` outcome, with the journal's error, for every entry not sent."""
        if self.stopped is None:
            return
        first, exc = self.stopped
        error = {"type": type(exc).__name__, "message": clean_text(str(exc))}
        for index in range(first, len(self._requests)):
            yield PlanOutcome(
                index,
                self._requests[index],
                state=PromotionState.NOT_SENT,
                recorded_error=error,
            )


async def run_plan(
    client: SevallaClient,
    requests: Sequence[PromoteRequest],
    *,
    concurrency: int,
    on_start: Callable[[int], None],
    wait: WaitFlags | None = None,
    on_poll: OnEntryPoll | None = None,
    ledger: FanoutLedger | None = None,
    skip_current: bool = False,
) -> AsyncGenerator[PlanOutcome, None]:
    """Yield one :class:`PlanOutcome` per request, in the order they complete.

    At most ``concurrency`` entries are in flight (promoting, or with ``wait`` promoting
    then waiting, ``wait.timeout`` per entry); an API error becomes the outcome's
    ``error`` and never stops the others. Anything else (a bug) stops the run and is
    raised. Closing the iterator cancels what is in flight. ``ledger`` is the SDK's
    :class:`FanoutLedger` (its ``on_outcome`` sees every outcome, on every exit path).
    ``on_start`` raising :class:`JournalWriteError` stops the sending: the entries in
    flight finish, then every entry not sent is yielded ``not_sent`` with that error.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency: must be >= 1, got {concurrency!r}")
    marking = _Marking(requests, on_start)
    outcomes = client.pipelines.promote_iter(
        iter(marking),
        concurrency=concurrency,
        wait=wait is not None,
        wait_timeout=None if wait is None else wait.timeout,
        poll_interval=DEFAULT_POLL_INTERVAL if wait is None else wait.poll_interval,
        on_poll=on_poll if wait is not None else None,
        ledger=ledger,
        skip_current=skip_current,
    )
    async with aclosing(outcomes):
        async for outcome in outcomes:
            yield plan_outcome(outcome)
    for unsent in marking.not_sent():  # the requests in flight have finished
        yield unsent

"""Journaling a ``promote-many`` run, and resuming one from its journal.

:class:`Recorder` writes the journal of a run (the ``sent`` event as the fan-out takes an
entry, the ``result`` event as each outcome is recorded by the SDK's ledger, on every exit
path) and, at the end, a ``not_sent`` result for every entry the run never reached.

:func:`check_journal` matches a journal to the plan (same entries, same requests);
:func:`settle_unknown` decides an entry whose outcome the journal left ``unknown``, from
the target apps' deployment histories (``client.pipelines.reconcile``), looking again
until every target is decided or the time is up.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from .. import (
    PromoteOutcome,
    PromoteRequest,
    Promotion,
    PromotionState,
    SevallaClient,
    SevallaError,
)
from ._console import UsageError
from ._journal import Journal, JournalEntry, JournalError, fingerprint, load
from ._output import clean_text, error_json

__all__ = [
    "Recorder",
    "Settled",
    "check_journal",
    "open_run_journal",
    "settle_unknown",
    "undecided_error",
]

LOOK_EVERY = 15.0
"""Most seconds between two looks at an entry's deployment histories while it settles."""


def check_journal(
    path: str, entries: Mapping[str, JournalEntry], requests: Sequence[PromoteRequest]
) -> str | None:
    """Why the journal at ``path`` does not belong to the plan ``requests`` (``None``: it
    does): an entry of another wave, past the plan's end, or of another request."""
    for key, entry in sorted(entries.items()):
        if entry.wave is not None:
            return f"{path}: entry {key} belongs to a release (waves), not to a plan"
        if entry.index >= len(requests):
            return (
                f"{path}: the journal has entry {entry.index}, the plan only "
                f"{len(requests)} entries: the plan changed since the journal was written"
            )
        if fingerprint(requests[entry.index]) != entry.fingerprint:
            return (
                f"{path}: entry {entry.index} of the plan is not the request the journal "
                "recorded: the plan changed since the journal was written"
            )
    return None


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Recorder:
    """The journal of one run of a plan (``journal=None``: records nothing, but still
    tracks which entries have a result)."""

    def __init__(self, journal: Journal | None, requests: Sequence[PromoteRequest]) -> None:
        self._journal = journal
        self._requests = requests
        self.reported: set[int] = set()
        self.started: set[int] = set()
        self.carried: set[int] = set()  # the journal's record stands until a new result

    def sent(self, index: int) -> None:
        """Entry ``index`` is about to be sent."""
        self.started.add(index)
        if self._journal is not None:
            self._journal.record_sent(index, self._requests[index], _now())

    def result(
        self,
        index: int,
        state: PromotionState,
        *,
        promotions: Sequence[Promotion] | None = None,
        sent_at: datetime | None = None,
        error: Mapping[str, Any] | None = None,
        final: bool = True,
    ) -> None:
        """What entry ``index`` came to (once per entry and run: a second is ignored).
        ``final=False`` records a step (what reconciling found, before sending the rest)."""
        if index in self.reported:
            return
        if final:
            self.reported.add(index)
            self.carried.discard(index)
        if self._journal is not None:
            self._journal.record_result(
                index,
                self._requests[index],
                state,
                promotions=promotions,
                sent_at=sent_at,
                error=error,
            )

    def outcome(
        self, index: int, outcome: PromoteOutcome, promotions: Sequence[Promotion] | None
    ) -> None:
        """Record an outcome of the SDK's fan-out as entry ``index``'s result."""
        error = None if outcome.error is None else error_json(outcome.error)
        self.result(
            index, outcome.state, promotions=promotions, sent_at=outcome.sent_at, error=error
        )

    def close(self) -> None:
        """A result for every entry without one (never reached: ``not_sent``; taken but
        without an outcome, which the ledger should make impossible: ``unknown``), except
        the ``carried`` ones, whose earlier record in the journal still holds."""
        for index in range(len(self._requests)):
            if index not in self.reported and index not in self.carried:
                state = PromotionState.UNKNOWN if index in self.started else PromotionState.NOT_SENT
                self.result(index, state)
        if self._journal is not None:
            self._journal.close()


@attrs.frozen
class Settled:
    """What reconciling an ``unknown`` entry found.

    ``found``: the promotions made (by target); ``missing``: the targets verified not
    promoted (to promote again); ``undecided``: targets the evidence cannot decide yet;
    ``error``: why the histories could not be read, if they could not.
    """

    found: Mapping[uuid.UUID, Promotion]
    missing: tuple[uuid.UUID, ...]
    undecided: tuple[uuid.UUID, ...]
    error: SevallaError | None = None


async def settle_unknown(
    client: SevallaClient,
    request: PromoteRequest,
    sent_at: datetime,
    *,
    settle: float,
    timeout: float,
) -> Settled:
    """Look at the targets' histories until every target of ``request`` (sent at
    ``sent_at``) is decided or ``timeout`` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            verdicts = await client.pipelines.reconcile(request, sent_at=sent_at, settle=settle)
        except SevallaError as exc:
            return Settled({}, (), tuple(request.target_app_ids), exc)
        found = {
            v.target_app_id: Promotion(v.target_app_id, v.deployment.id)
            for v in verdicts
            if v.promoted and v.deployment is not None
        }
        missing = tuple(v.target_app_id for v in verdicts if v.promoted is False)
        undecided = tuple(
            v.target_app_id
            for v in verdicts
            if v.promoted is not False and v.target_app_id not in found
        )
        left = deadline - loop.time()
        if not undecided or left <= 0:
            return Settled(found, missing, undecided)
        settled_at = (sent_at - _now()).total_seconds() + settle  # when "not made" may be said
        await asyncio.sleep(min(max(settled_at, 1.0), LOOK_EVERY, left))


def undecided_error(settled: Settled, timeout: float) -> dict[str, Any]:
    """The recorded error of an entry still ``unknown`` after reconciling."""
    if settled.error is not None:
        data = error_json(settled.error)
        data["message"] = clean_text(
            f"could not read the deployment histories: {data['message']}; resume again later"
        )
        return data
    return {
        "type": "PromotionUnresolvedError",
        "message": (
            f"{len(settled.undecided)} target(s) still undecided after reconciling for "
            f"{timeout:g} s: nothing was sent again; resume again later"
        ),
    }


def open_run_journal(
    journal_path: str | None,
    resume: str | None,
    *,
    check: Callable[[str, dict[str, JournalEntry]], str | None],
    entries_in_plan: int,
    run: str = "run",
) -> tuple[Journal | None, dict[str, JournalEntry]]:
    """The journal a command writes (``--journal``, or the ``--resume`` journal it appends
    to), locked for the whole run, and, to resume, what that journal holds, checked against
    the plan by ``check`` (which says what does not match). Everything refused is a
    :class:`UsageError` before anything is sent: another run holding the journal, a
    ``--journal`` that is not empty (it records a run already: ``--resume`` it), a journal
    of another plan, one that cannot be written."""
    if resume is not None and journal_path is not None and journal_path != resume:
        raise UsageError(f"--journal: a resumed {run} appends to its --resume journal; give one")
    target = resume or journal_path
    if target is None:
        return None, {}
    flag = "--resume" if resume is not None else "--journal"
    try:
        journal = Journal.open(target, new=resume is None, create=resume is None)
    except JournalError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    try:
        entries: dict[str, JournalEntry] = {}
        if resume is not None:  # read under the lock, the torn tail cut
            entries = load(resume)
            problem = check(resume, entries)
            if problem:
                raise UsageError(f"--resume: {problem}; nothing was sent")
        journal.record_plan(entries_in_plan, resumed=resume is not None)
    except JournalError as exc:
        journal.close()
        raise UsageError(f"{flag}: {exc}") from None
    except BaseException:
        journal.close()
        raise
    return journal, entries

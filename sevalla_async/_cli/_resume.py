"""Journaling a ``promote-many`` run, and resuming one from its journal.

:class:`Recorder` writes the journal of a run (the ``sent`` event as the fan-out takes an
entry, the ``result`` event as each outcome is recorded by the SDK's ledger, on every exit
path) and, at the end, a ``not_sent`` result for every entry the run never reached.

:func:`check_journal` matches a journal to the plan (same entries, same requests);
:func:`resume_entry` finishes an entry the journal left ``unknown`` (or partly promoted)
from its per-target record, with ``client.pipelines.resume``: the one settle loop.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime, timezone
from typing import Any

import attrs

from .. import (
    APIError,
    PromoteOutcome,
    PromoteRequest,
    Promotion,
    PromotionState,
    SevallaClient,
    SevallaError,
    TargetOutcome,
    WaitAllError,
)
from .._engine import Engine
from ._console import UsageError
from ._journal import Journal, JournalEntry, JournalError, fingerprint, load
from ._output import clean_text, error_json
from ._plan_runner import PlanOutcome
from ._waiting import Waited, WaitFlags, waited_from_deployments, waited_from_error

__all__ = [
    "Recorder",
    "Resumed",
    "check_journal",
    "finish_recorded",
    "open_run_journal",
    "result_fields",
    "resumable",
    "resume_entry",
    "resume_error",
]


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

    def resent(self, index: int, again: PromoteRequest) -> None:
        """Some targets of entry ``index`` (``again``) are about to be sent again."""
        if self._journal is not None:
            request = self._requests[index]
            self._journal.record_sent(index, request, _now(), targets=again.target_app_ids)

    def result(
        self,
        index: int,
        state: PromotionState,
        *,
        promotions: Sequence[Promotion] | None = None,
        sent_at: datetime | None = None,
        error: Mapping[str, Any] | None = None,
        targets: Sequence[TargetOutcome] | None = None,
    ) -> None:
        """What entry ``index`` came to (once per entry and run: a second is ignored);
        ``targets``: each target's outcome."""
        if index in self.reported:
            return
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
                targets=targets,
            )

    def outcome(self, index: int, found: PromoteOutcome | Resumed) -> None:
        """Record an outcome of the SDK's fan-out, or what resuming entry ``index`` came
        to, as its result."""
        self.result(index, **result_fields(found))

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
class Resumed:
    """What resuming an entry from its per-target record came to: every target's outcome
    (``targets``, in target order) and, unless every target ends promoted, why not
    (``error``: the re-send's refusal, an unreadable history, or still undecided)."""

    targets: tuple[TargetOutcome, ...]
    error: SevallaError | None = None
    note: str | None = None  # why nothing was tried (no error to tell it)

    @property
    def state(self) -> PromotionState:
        """The entry's state from its targets'."""
        states = [o.state for o in self.targets]
        if all(s is PromotionState.PROMOTED for s in states):
            return PromotionState.PROMOTED
        if PromotionState.UNKNOWN in states:
            return PromotionState.UNKNOWN
        return next(s for s in states if s is not PromotionState.PROMOTED)

    @property
    def promotions(self) -> list[Promotion]:
        """The promotions of the targets promoted, in target order."""
        return [
            Promotion(o.target_app_id, o.deployment_id)
            for o in self.targets
            if o.deployment_id is not None and o.state is PromotionState.PROMOTED
        ]

    @property
    def sent_at(self) -> datetime | None:
        """The latest send of any target."""
        return max((o.sent_at for o in self.targets if o.sent_at is not None), default=None)


def resumable(outcomes: Sequence[TargetOutcome]) -> bool:
    """Whether an entry is finished by :func:`resume_entry`: some target is ``unknown`` or
    some promoted and some not, and none was refused (``rejected``: reported as is)."""
    states = {o.state for o in outcomes}
    if PromotionState.REJECTED in states:
        return False
    return PromotionState.UNKNOWN in states or (
        PromotionState.PROMOTED in states and len(states) > 1
    )


async def resume_entry(
    client: SevallaClient,
    request: PromoteRequest,
    outcomes: Sequence[TargetOutcome],
    *,
    settle: float,
    timeout: float,
    on_send: Callable[[PromoteRequest], object],
) -> Resumed:
    """Finish ``request`` from its per-target record with ``client.pipelines.resume``
    (promoted targets kept, unknown ones reconciled each in its own send's window, the
    rest promoted in one request, ``on_send`` called just before it leaves)."""
    if any(o.state is PromotionState.UNKNOWN and o.sent_at is None for o in outcomes):
        note = "sent, with no time recorded: the window cannot be bounded; nothing was sent"
        return Resumed(tuple(outcomes), note=note)
    resent: dict[uuid.UUID, datetime] = {}

    def sending(again: PromoteRequest) -> None:
        resent.update(dict.fromkeys(again.target_app_ids, _now()))
        on_send(again)

    try:
        promotions = await client.pipelines.resume(
            request,
            outcomes,
            reconcile_settle=settle,
            reconcile_timeout=timeout,
            on_send=sending,
        )
    except SevallaError as exc:
        found = getattr(exc, "targets", None)
        if found is None:  # failed before it could say (e.g. a history unreadable)
            found = tuple(
                TargetOutcome(o.target_app_id, PromotionState.UNKNOWN, resent[o.target_app_id])
                if o.target_app_id in resent and o.state is not PromotionState.PROMOTED
                else o
                for o in outcomes
            )
        return Resumed(tuple(found), exc)
    made = {p.target_app_id: p.deployment_id for p in promotions}
    return Resumed(
        tuple(
            TargetOutcome(
                o.target_app_id,
                PromotionState.PROMOTED,
                resent.get(o.target_app_id, o.sent_at),
                made[o.target_app_id],
            )
            for o in outcomes
        )
    )


def resume_error(resumed: Resumed) -> dict[str, Any] | None:
    """The recorded error of an entry a resume did not finish (``None``: it did)."""
    if resumed.error is None:
        if resumed.note is None:
            return None
        return {"type": "PromotionUnresolvedError", "message": resumed.note}
    data = error_json(resumed.error)
    if not isinstance(resumed.error, APIError) or resumed.state is PromotionState.UNKNOWN:
        data["message"] = clean_text(f"{data['message']}; resume again later")
    return data


def result_fields(found: PromoteOutcome | Resumed) -> dict[str, Any]:
    """What the journal records as an entry's result (the keywords of
    :meth:`Journal.record_result` besides the entry): from an outcome of the SDK's
    fan-out, or from what resuming the entry came to."""
    if isinstance(found, Resumed):
        promotions, error = found.promotions or None, resume_error(found)
    else:
        promotions = found.promotions
        error = None if found.error is None else error_json(found.error)
    return {
        "state": found.state,
        "promotions": promotions,
        "sent_at": found.sent_at,
        "error": error,
        "targets": found.targets,
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


async def waited_for(
    client: SevallaClient, promotions: Sequence[Promotion], options: WaitFlags
) -> tuple[list[Waited], SevallaError | None]:
    """Wait for the deployments of ``promotions``: each one's final (or last seen) state,
    and the error when some could not be waited for to the end."""
    try:
        deployments = await client.deployments.wait_all(promotions, **options.kwargs())
    except WaitAllError as exc:
        return waited_from_error(exc), exc
    return waited_from_deployments(deployments, [p.target_app_id for p in promotions]), None


async def finish_recorded(
    client: SevallaClient,
    entries: Mapping[int, tuple[PromoteRequest, JournalEntry]],
    recorder: Recorder,
    *,
    concurrency: int,
    settle: float,
    timeout: float,
    wait: WaitFlags | None,
) -> AsyncGenerator[PlanOutcome, None]:
    """The outcome of every entry the journal records (by plan index): an ``unknown`` or
    partly promoted one finished by :func:`resume_entry`, the others (promoted, rejected)
    as recorded; with ``wait``, every entry with promotions is waited for."""

    async def one(_: int, item: tuple[int, tuple[PromoteRequest, JournalEntry]]) -> PlanOutcome:
        index, (request, entry) = item
        outcomes = entry.outcomes(request)
        if not resumable(outcomes):
            recorder.reported.add(index)
            outcome = _from_journal(index, request, entry)
        else:
            resumed = await resume_entry(
                client,
                request,
                outcomes,
                settle=settle,
                timeout=timeout,
                on_send=functools.partial(recorder.resent, index),
            )
            recorder.outcome(index, resumed)
            outcome = PlanOutcome(
                index,
                request,
                resumed.promotions or None,
                state=resumed.state,
                sent_at=resumed.sent_at,
                recorded_error=resume_error(resumed),
            )
        if wait is None or not outcome.promotions:
            return outcome
        waited, error = await waited_for(client, outcome.promotions, wait)
        return attrs.evolve(outcome, waited=waited, error=error)

    recorder.carried.update(entries)
    recorder.started.update(entries)
    engine = Engine(list(entries.items()), one, concurrency=concurrency)
    async with aclosing(engine.stream()) as stream:
        async for outcome in stream:
            yield outcome


def _from_journal(index: int, request: PromoteRequest, entry: JournalEntry) -> PlanOutcome:
    """An entry a resumed run does not send again: its recorded result."""
    promotions = None if entry.promotions is None else list(entry.promotions)
    return PlanOutcome(
        index,
        request,
        promotions,
        state=entry.state,
        sent_at=entry.sent_at,
        recorded=True,
        recorded_error=entry.error,
    )

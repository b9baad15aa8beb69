"""Journaling a ``release`` run, and resuming one from its journal (on the CLI's journal,
``_journal``, and its reconciling, ``_resume``).

The journal holds one ``sent`` event (written before the request leaves) and one
``result`` event per entry, keyed by wave and entry. A resumed release runs the plan from
its first wave again, but an entry the journal shows promoted is not sent: its deployments
are waited for and gated (a finished wave passes again without a promotion), and an entry
left ``unknown`` (sent, no reply: the process was killed) is reconciled from the target
apps' deployment histories first; only targets verified not promoted are sent. Rollbacks
are journaled too (``rollback_sent`` before the request, ``rollback_result`` after): a
resumed release never sends a rollback the journal shows sent again (rolling back twice
would go one deployment further back); it waits for it when its deployment is known.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from .. import (
    Build,
    PromoteOutcome,
    PromoteRequest,
    Promotion,
    PromotionState,
    RollbackOutcome,
    SevallaClient,
)
from ._console import Console, UsageError
from ._journal import Journal, JournalEntry, JournalError, fingerprint, load_rollbacks
from ._output import error_json, plural
from ._resume import (
    Resumed,
    open_run_journal,
    result_fields,
    resumable,
    resume_entry,
    resume_error,
)

__all__ = ["ReleaseRecorder", "check_release_journal", "open_release_journal", "resumed_done"]


def check_release_journal(
    path: str, entries: Mapping[str, JournalEntry], waves: Sequence[Sequence[PromoteRequest]]
) -> str | None:
    """Why the journal does not belong to this release plan (``None``: it does)."""
    for key, entry in sorted(entries.items()):
        if entry.wave is None:
            return f"{path}: entry {key} belongs to a promote-many plan, not to a release"
        if entry.wave >= len(waves) or entry.index >= len(waves[entry.wave]):
            return (
                f"{path}: the journal has wave {entry.wave}, entry {entry.index}, which the "
                "plan does not: the plan changed since the journal was written"
            )
        if fingerprint(waves[entry.wave][entry.index]) != entry.fingerprint:
            return (
                f"{path}: wave {entry.wave}, entry {entry.index} of the plan is not the request "
                "the journal recorded: the plan changed since the journal was written"
            )
    return None


Rollbacks = dict[tuple[int, uuid.UUID], uuid.UUID | None]


def open_release_journal(
    journal_path: str | None, resume: str | None, waves: Sequence[Sequence[PromoteRequest]]
) -> tuple[Journal | None, dict[str, JournalEntry], Rollbacks]:
    """The journal to write (``--journal`` or ``--resume``) and, to resume, what it holds:
    the entries and the rollbacks sent (checked against the plan; a :class:`UsageError`
    before anything is sent)."""
    journal, entries = open_run_journal(
        journal_path,
        resume,
        check=lambda path, entries: check_release_journal(path, entries, waves),
        entries_in_plan=sum(len(w) for w in waves),
        run="release",
    )
    if resume is None:
        return journal, entries, {}
    assert journal is not None  # a resumed release appends to its --resume journal
    try:
        rollbacks = load_rollbacks(resume)
    except JournalError as exc:
        journal.close()
        raise UsageError(f"--resume: {exc}") from None
    for wave, app in rollbacks:
        if wave >= len(waves) or not any(app in r.target_app_ids for r in waves[wave]):
            journal.close()
            raise UsageError(
                f"--resume: {resume}: the journal rolled back app {app} in wave {wave}, which "
                "the plan does not have there: the plan changed since the journal was "
                "written; nothing was sent"
            )
    return journal, entries, rollbacks


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ReleaseRecorder:
    """Writes a release's events: ``sent`` before each request, ``result`` per outcome."""

    def __init__(self, journal: Journal, waves: Sequence[Sequence[PromoteRequest]]) -> None:
        self._journal = journal
        self._waves = waves
        self._done: frozenset[tuple[int, int]] = frozenset()

    def keep(self, done: Mapping[tuple[int, int], Sequence[Promotion]]) -> None:
        """The entries the resumed journal shows promoted (``resumed_done``): a release
        that stops before their wave reports them ``not_sent``, which must not overwrite
        their journaled promotions (the next resume would send them again)."""
        self._done = frozenset(done)

    def sent(self, wave: int, index: int, _request: PromoteRequest) -> None:
        self._journal.record_sent(index, self._waves[wave][index], _now(), wave=wave)

    def outcome(self, wave: int, outcome: PromoteOutcome) -> None:
        if outcome.state is PromotionState.NOT_SENT and (wave, outcome.index) in self._done:
            return
        self._result(wave, outcome.index, outcome)

    def pin(self, source_app_id: uuid.UUID, build: Build) -> None:
        """``on_pin``: the release pinned a source's build (before its first wave)."""
        self._journal.record_pin(source_app_id, build)

    def rollback_sent(self, wave: int, app_id: uuid.UUID) -> None:
        self._journal.record_rollback_sent(wave, app_id, _now())

    def rollback(self, rollback: RollbackOutcome) -> None:
        self._journal.record_rollback_result(
            rollback.wave,
            rollback.app_id,
            rollback.state,
            deployment_id=None if rollback.deployment is None else rollback.deployment.id,
            error=None if rollback.error is None else error_json(rollback.error),
        )

    def resent(self, entry: JournalEntry, again: PromoteRequest) -> None:
        """Some targets of a resumed entry (``again``) are about to be sent again."""
        request = self._waves[entry.wave or 0][entry.index]
        targets = again.target_app_ids
        self._journal.record_sent(entry.index, request, _now(), wave=entry.wave, targets=targets)

    def resumed(self, entry: JournalEntry, resumed: Resumed) -> None:
        """What resuming an entry came to."""
        self._result(entry.wave or 0, entry.index, resumed)

    def _result(self, wave: int, index: int, found: PromoteOutcome | Resumed) -> None:
        request = self._waves[wave][index]
        self._journal.record_result(index, request, wave=wave, **result_fields(found))


async def resumed_done(
    client: SevallaClient,
    entries: Mapping[str, JournalEntry],
    waves: Sequence[Sequence[PromoteRequest]],
    console: Console,
    *,
    settle: float,
    timeout: float,
    recorder: ReleaseRecorder | None,
) -> dict[tuple[int, int], list[Promotion]] | None:
    """The promotions the journal proves made, by ``(wave, entry)``; an entry left
    ``unknown`` (or partly promoted) is finished from its per-target record first
    (``client.pipelines.resume``); ``None`` (nothing more may be sent) when one is not.
    Says how many entries are not sent again."""
    done: dict[tuple[int, int], list[Promotion]] = {}
    partly = 0
    for entry in sorted(entries.values(), key=lambda e: (e.wave or 0, e.index)):
        wave = entry.wave or 0
        request = waves[wave][entry.index]
        outcomes = entry.outcomes(request)
        made = [
            Promotion(o.target_app_id, o.deployment_id)
            for o in outcomes
            if o.state is PromotionState.PROMOTED and o.deployment_id is not None
        ]
        if all(o.state is PromotionState.PROMOTED for o in outcomes):
            done[(wave, entry.index)] = made
            continue
        if not resumable(outcomes):
            if made:  # partly refused: only the targets not promoted are sent again
                done[(wave, entry.index)] = made
                partly += 1
            continue  # rejected or not sent: sent (again)
        console.note(
            f"wave {wave}, entry {entry.index}: sent without a reply before; reconciling from "
            "the target apps' deployment histories"
        )
        resumed = await resume_entry(
            client,
            request,
            outcomes,
            settle=settle,
            timeout=timeout,
            on_send=_noop if recorder is None else functools.partial(recorder.resent, entry),
        )
        if recorder is not None:
            recorder.resumed(entry, resumed)
        error = resume_error(resumed)
        if error is not None:
            console.note(
                f"wave {wave}, entry {entry.index}: {resumed.state}: {error['message']}; "
                "nothing more was sent"
            )
            return None
        done[(wave, entry.index)] = resumed.promotions
    console.note(
        f"resuming: {plural(len(done) - partly, 'entry', 'entries')} already promoted "
        f"{'is' if len(done) - partly == 1 else 'are'} not sent again"
    )
    return done


def _noop(_request: PromoteRequest) -> None:
    return None

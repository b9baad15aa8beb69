"""``promote-many PLAN``: every entry of a plan file promoted on the library's fan-out, one
row (or JSON line) each as it finishes, journaled with ``--journal`` and continued with
``--resume`` (what the journal records is finished from it, the rest is sent), each
entry's deployments waited for with ``--wait``.

API errors of an entry are that entry's row; bad input is a :class:`UsageError` (exit 2)
raised before anything is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import uuid
from collections.abc import Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import Path

import attrs

from .. import (
    Deployment,
    FanoutLedger,
    PromoteOutcome,
    PromoteRequest,
    PromotionState,
    SevallaClient,
)
from ._console import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Console, UsageError, make_client
from ._failure_logs import attach_logs, log_lines
from ._hints import error_hint
from ._journal import Journal, JournalEntry
from ._output import format_row, json_line, plural
from ._plan import expecting, load_plan, parse_plan
from ._plan_runner import PlanOutcome, run_plan
from ._reports import entry_list, report_interrupted, report_unknown
from ._resume import Recorder, check_journal, finish_recorded, open_run_journal
from ._rows import OUTCOME_COLUMNS, WAITED_OUTCOME_COLUMNS, outcome_json, outcome_rows, tally
from ._waiting import WaitFlags, wait_options

__all__ = ["emit_outcome", "promote_many"]


async def promote_many(args: argparse.Namespace, console: Console) -> int:
    requests = load_plan(args.plan, console, parse_plan)
    if requests is None:
        return EXIT_USAGE
    requests = expecting(requests, args.expect_build)
    options = wait_options(args)
    client = make_client(args)  # a bad key or URL is found before anything is sent
    if not requests:
        await client.aclose()
        console.note("the plan is empty: nothing to do")
        return EXIT_OK
    try:
        journal, entries = _open_journal(args, requests)
    except UsageError:
        await client.aclose()
        raise
    if journal is not None:
        console.note(f"journal: {journal.path} (continue an interrupted run with --resume)")
    if options is not None:
        options.apply(client)
    run = _PlanRun(console, requests, Recorder(journal, requests), options, entries)
    try:
        await run.run(client, args)
    except (asyncio.CancelledError, Exception):
        run.interrupted()
        if journal is not None:
            console.note(f"to continue: the same command with --resume {journal.path}")
        raise
    finally:
        run.recorder.close()
        if journal is not None and journal.failure is not None:
            console.note(
                f"journal: writing {journal.path} failed ({journal.failure}): no entry was "
                "sent after that; once there is room, --resume it (every entry sent is "
                "recorded as sent, and one whose result is missing is reconciled)"
            )
    return run.summary()


class _PlanRun:
    """One run of a plan: which entries are sent afresh and which are finished from the
    journal, the rows shown so far, the deployments polled and the entries whose outcome
    is unknown (for the summary and the report of an interruption)."""

    def __init__(
        self,
        console: Console,
        requests: Sequence[PromoteRequest],
        recorder: Recorder,
        options: WaitFlags | None,
        entries: dict[str, JournalEntry],
    ) -> None:
        self.console = console
        self.requests = requests
        self.recorder = recorder
        self.options = options
        self.finished: dict[int, PlanOutcome] = {}
        self.unknown_sent: dict[int, tuple[PromoteRequest, datetime]] = {}
        self.polled: dict[int, dict[uuid.UUID, Deployment]] = {}
        # what is sent afresh (plan indexes); the entries the journal records are finished
        # from it (reconciled per target, the rest promoted, waited for with --wait)
        self.to_send: list[int] = []
        self.journaled: dict[int, tuple[PromoteRequest, JournalEntry]] = {}
        for index, request in enumerate(requests):
            entry = entries.get(str(index))
            if entry is None or all(
                o.state is PromotionState.NOT_SENT for o in entry.outcomes(request)
            ):
                self.to_send.append(index)
            else:
                self.journaled[index] = (request, entry)
        self.columns = OUTCOME_COLUMNS if options is None else WAITED_OUTCOME_COLUMNS
        index_width = max(len(self.columns[0]), len(str(len(requests) - 1)))
        self.widths = (
            (index_width, 7, 36, 36, 0) if options is None else (index_width, 7, 36, 36, 36, 0)
        )
        self.progress = console.progress_line(len(requests))

    async def run(self, client: SevallaClient, args: argparse.Namespace) -> None:
        async with client:
            if not self.console.json:
                self.console.line(format_row(self.columns, self.widths))
            if self.journaled:
                async with aclosing(
                    finish_recorded(
                        client,
                        self.journaled,
                        self.recorder,
                        concurrency=args.concurrency,
                        settle=args.reconcile_settle,
                        timeout=args.reconcile_timeout,
                        wait=self.options,
                    )
                ) as done:
                    async for outcome in done:
                        self._show(await _with_logs(client, outcome, self.options))
            async with aclosing(
                run_plan(
                    client,
                    [self.requests[i] for i in self.to_send],
                    concurrency=args.concurrency,
                    on_start=self._on_start,
                    wait=self.options,
                    on_poll=self._record if self.options is not None else None,
                    ledger=FanoutLedger(on_outcome=self._on_outcome),
                    skip_current=args.skip_current,
                )
            ) as outcomes:
                async for outcome in outcomes:
                    outcome = await _with_logs(client, outcome, self.options)
                    self._show(attrs.evolve(outcome, index=self.to_send[outcome.index]))

    def _show(self, outcome: PlanOutcome) -> None:
        self.finished[outcome.index] = outcome
        emit = functools.partial(
            emit_outcome, self.console, outcome, self.widths, waits=self.options is not None
        )
        self.progress.advance(ok=outcome.ok, write=emit)

    def _record(self, position: int, deployment: Deployment) -> None:
        self.polled.setdefault(self.to_send[position], {})[deployment.id] = deployment

    def _on_start(self, position: int) -> None:
        self.recorder.sent(self.to_send[position])

    def _on_outcome(self, outcome: PromoteOutcome) -> None:
        index = self.to_send[outcome.index]
        self.recorder.outcome(index, outcome)
        if outcome.state is PromotionState.UNKNOWN and outcome.sent_at is not None:
            self.unknown_sent[index] = (self.requests[index], outcome.sent_at)

    def interrupted(self) -> None:
        """What was sent, finished and polled when the run was cut short."""
        self.progress.clear()
        report_interrupted(
            self.console,
            self.requests,
            self.recorder.started,
            self.finished,
            self.polled,
            self.unknown_sent,
        )

    def summary(self) -> int:
        """The closing notes (counts, entries to reconcile, what the journal held, the
        waits' tally, a hint for the first error) and the exit status."""
        console, finished = self.console, self.finished
        self.progress.finish()
        failed = sorted(i for i, o in finished.items() if not o.ok)
        which = f" ({entry_list(failed)})" if failed else ""
        console.note(
            f"{plural(len(self.requests), 'promotion')}: {len(self.requests) - len(failed)} "
            f"ok, {len(failed)} failed{which}"
        )
        maybe = {
            i: self.unknown_sent.get(i, (o.request, o.sent_at))
            for i, o in finished.items()
            if o.state is PromotionState.UNKNOWN and o.sent_at is not None
        }
        if maybe:
            console.note(
                f"{plural(len(maybe), 'entry', 'entries')} may have been promoted (outcome "
                "unknown): find out before retrying with:"
            )
            report_unknown(console, maybe)
        recorded = sum(1 for o in finished.values() if o.recorded)
        if recorded:
            console.note(f"{recorded} taken from the journal, not sent again")
        if self.options is not None:
            console.note(tally([w for o in finished.values() for w in o.waited or ()]))
        errors = (error_hint(o.error) for o in finished.values() if o.error)
        hint = next(filter(None, errors), None)
        if hint:
            console.note(hint)
        return EXIT_FAILED if failed else EXIT_OK


def emit_outcome(
    console: Console, outcome: PlanOutcome, widths: Sequence[int], *, waits: bool = False
) -> None:
    """Print one outcome: a JSON line (with ``deployments`` when the run ``waits``), or its
    table rows (each failed deployment's error lines under its row)."""
    if console.json:
        console.line(json_line(outcome_json(outcome, waits=waits)))
        return
    logs = [w.logs for w in outcome.waited or ()]
    for i, row in enumerate(outcome_rows(outcome, waits=waits)):
        console.line(format_row(row, widths))
        for line in log_lines(logs[i] if i < len(logs) else None):
            console.line(line)


async def _with_logs(
    client: SevallaClient, outcome: PlanOutcome, options: WaitFlags | None
) -> PlanOutcome:
    """``outcome`` with the error lines of each of its deployments that ended ``failed``
    (``--wait``; ``--failure-logs``)."""
    if options is None or outcome.waited is None:
        return outcome
    waited = await attach_logs(client, outcome.waited, options.failure_logs)
    return attrs.evolve(outcome, waited=waited)


def _open_journal(
    args: argparse.Namespace, requests: Sequence[PromoteRequest]
) -> tuple[Journal | None, dict[str, JournalEntry]]:
    """The journal to write (``--journal`` or ``--resume``) and, to resume, what it holds
    (checked against the plan: a :class:`UsageError` if it is of another plan)."""
    journal_path = None if args.journal is None else str(Path(args.journal))
    resume = None if args.resume is None else str(Path(args.resume))
    return open_run_journal(
        journal_path,
        resume,
        check=lambda path, entries: check_journal(path, entries, requests),
        entries_in_plan=len(requests),
    )

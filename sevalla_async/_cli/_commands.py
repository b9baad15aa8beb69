"""The API commands: ``promote``, ``promote-many``, ``pipelines list``, ``deployments list``
(``wait`` and the ``--wait`` of ``promote`` are in ``_wait_commands``).

Each is ``async def command(args, console) -> exit status``. API errors propagate to the
runner (exit 1, one line on stderr); bad input is a :class:`UsageError` (exit 2) raised
before anything is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import attrs

from .. import (
    Deployment,
    FanoutLedger,
    PromoteOutcome,
    PromoteRequest,
    PromotionState,
    SevallaClient,
)
from ._console import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Console,
    UsageError,
    flag_names,
    make_client,
    take,
)
from ._failure_logs import attach_logs, log_lines
from ._hints import error_hint
from ._journal import Journal, JournalEntry
from ._output import (
    DEPLOYMENT_COLUMNS,
    PIPELINE_COLUMNS,
    deployment_json,
    deployment_row,
    format_row,
    json_line,
    pipeline_json,
    pipeline_row,
    plural,
    promotion_json,
    promotions_table,
    render_table,
)
from ._plan import expecting, load_plan, parse_plan
from ._plan_runner import PlanOutcome, run_plan
from ._reports import (
    OnePromote,
    entry_list,
    format_indexes,
    report_interrupted,
    report_promote_interrupted,
    report_unknown,
)
from ._resume import Recorder, check_journal, finish_recorded, open_run_journal
from ._rows import OUTCOME_COLUMNS, WAITED_OUTCOME_COLUMNS, outcome_json, outcome_rows, tally
from ._wait_commands import promote_and_wait
from ._waiting import WaitFlags, wait_options

__all__ = [
    "deployments_list",
    "emit_outcome",
    "format_indexes",
    "pipelines_list",
    "promote",
    "promote_many",
    "report_interrupted",
]

T = TypeVar("T")


# --- promote ------------------------------------------------------------------------------


async def promote(args: argparse.Namespace, console: Console) -> int:
    try:
        request = PromoteRequest(
            args.pipeline, args.source, args.target, expect_build=args.expect_build
        )
    except ValueError as exc:
        raise UsageError(flag_names(str(exc))) from None
    options = wait_options(args)
    async with make_client(args) as client:
        if options is not None:
            return await promote_and_wait(
                client, request, options, console, skip_current=args.skip_current
            )
        mark = OnePromote()  # when the request leaves, for the report of a Ctrl-C
        try:
            promotions = await mark.send(client, request, skip_current=args.skip_current)
        except asyncio.CancelledError:
            report_promote_interrupted(console, request, mark.sent_at)
            raise
    if console.json:
        for p in promotions:
            console.line(json_line(promotion_json(request, p)))
    else:
        console.line(promotions_table(promotions))
    return EXIT_OK


# --- promote-many -------------------------------------------------------------------------


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
    recorder = Recorder(journal, requests)
    finished: dict[int, PlanOutcome] = {}
    unknown_sent: dict[int, tuple[PromoteRequest, datetime]] = {}
    polled: dict[int, dict[uuid.UUID, Deployment]] = {}

    progress = console.progress_line(len(requests))
    columns = OUTCOME_COLUMNS if options is None else WAITED_OUTCOME_COLUMNS
    entry_width = max(len(columns[0]), len(str(len(requests) - 1)))
    widths = (entry_width, 7, 36, 36, 0) if options is None else (entry_width, 7, 36, 36, 36, 0)

    def show(outcome: PlanOutcome) -> None:
        finished[outcome.index] = outcome
        emit = functools.partial(emit_outcome, console, outcome, widths, waits=options is not None)
        progress.advance(ok=outcome.ok, write=emit)

    # what is sent afresh (plan indexes); the entries the journal records are finished
    # from it (reconciled per target, the rest promoted, waited for with --wait)
    to_send: list[int] = []
    journaled: dict[int, tuple[PromoteRequest, JournalEntry]] = {}
    for index, request in enumerate(requests):
        entry = entries.get(str(index))
        if entry is None or all(
            o.state is PromotionState.NOT_SENT for o in entry.outcomes(request)
        ):
            to_send.append(index)
        else:
            journaled[index] = (request, entry)

    def record(position: int, deployment: Deployment) -> None:
        polled.setdefault(to_send[position], {})[deployment.id] = deployment

    def on_start(position: int) -> None:
        recorder.sent(to_send[position])

    def on_outcome(outcome: PromoteOutcome) -> None:
        index = to_send[outcome.index]
        recorder.outcome(index, outcome)
        if outcome.state is PromotionState.UNKNOWN and outcome.sent_at is not None:
            unknown_sent[index] = (requests[index], outcome.sent_at)  # what to reconcile

    if not console.json:
        console.line(format_row(columns, widths))
    try:
        async with client:
            if journaled:
                async with aclosing(
                    finish_recorded(
                        client,
                        journaled,
                        recorder,
                        concurrency=args.concurrency,
                        settle=args.reconcile_settle,
                        timeout=args.reconcile_timeout,
                        wait=options,
                    )
                ) as done:
                    async for outcome in done:
                        show(await _with_logs(client, outcome, options))
            async with aclosing(
                run_plan(
                    client,
                    [requests[i] for i in to_send],
                    concurrency=args.concurrency,
                    on_start=on_start,
                    wait=options,
                    on_poll=record if options is not None else None,
                    ledger=FanoutLedger(on_outcome=on_outcome),
                    skip_current=args.skip_current,
                )
            ) as outcomes:
                async for outcome in outcomes:
                    outcome = await _with_logs(client, outcome, options)
                    show(attrs.evolve(outcome, index=to_send[outcome.index]))
    except (asyncio.CancelledError, Exception):
        progress.clear()
        report_interrupted(console, requests, recorder.started, finished, polled, unknown_sent)
        if journal is not None:
            console.note(f"to continue: the same command with --resume {journal.path}")
        raise
    finally:
        recorder.close()
        if journal is not None and journal.failure is not None:
            console.note(
                f"journal: writing {journal.path} failed ({journal.failure}): no entry was "
                "sent after that; once there is room, --resume it (every entry sent is "
                "recorded as sent, and one whose result is missing is reconciled)"
            )
    progress.finish()
    failed = sorted(i for i, o in finished.items() if not o.ok)
    which = f" ({entry_list(failed)})" if failed else ""
    console.note(
        f"{plural(len(requests), 'promotion')}: {len(requests) - len(failed)} ok, "
        f"{len(failed)} failed{which}"
    )
    maybe = {
        i: unknown_sent.get(i, (o.request, o.sent_at))
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
    if options is not None:
        console.note(tally([w for o in finished.values() for w in o.waited or ()]))
    hint = next(filter(None, (error_hint(o.error) for o in finished.values() if o.error)), None)
    if hint:
        console.note(hint)
    return EXIT_FAILED if failed else EXIT_OK


# --- listing ------------------------------------------------------------------------------


async def pipelines_list(args: argparse.Namespace, console: Console) -> int:
    async with make_client(args) as client:
        pipelines = client.pipelines.list(page_size=_page_size(args.limit))
        await _print_listing(
            console,
            take(pipelines, args.limit),
            pipeline_json,
            pipeline_row,
            PIPELINE_COLUMNS,
            empty="no pipelines",
        )
    return EXIT_OK


async def deployments_list(args: argparse.Namespace, console: Console) -> int:
    async with make_client(args) as client:
        try:
            deployments = client.deployments.list(args.app, page_size=_page_size(args.limit))
        except ValueError as exc:
            raise UsageError(f"APP: {exc}") from None
        await _print_listing(
            console,
            take(deployments, args.limit),
            deployment_json,
            deployment_row,
            DEPLOYMENT_COLUMNS,
            empty="no deployments",
        )
    return EXIT_OK


async def _print_listing(
    console: Console,
    items: AsyncIterator[T],
    as_json: Callable[[T], Mapping[str, object]],
    as_row: Callable[[T], Sequence[str]],
    columns: Sequence[str],
    *,
    empty: str,
) -> None:
    """JSON lines as items arrive, or one table once all are in (``empty`` when none)."""
    rows = []
    async for item in items:
        if console.json:
            console.line(json_line(as_json(item)))
        else:
            rows.append(as_row(item))
    if not console.json:
        console.line(render_table(columns, rows) if rows else empty)


def _page_size(limit: int | None) -> int:
    return 100 if limit is None else max(1, min(limit, 100))

"""The API commands: ``promote``, ``promote-many``, ``pipelines list``, ``deployments list``
(``wait`` and the ``--wait`` of ``promote`` are in ``_wait_commands``).

Each is ``async def command(args, console) -> exit status``. API errors propagate to the
runner (exit 1, one line on stderr); bad input is a :class:`UsageError` (exit 2) raised
before anything is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import TypeVar

import attrs

from .. import (
    Deployment,
    FanoutLedger,
    PromoteOutcome,
    PromoteRequest,
    PromotionState,
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
from ._journal import Journal, JournalEntry
from ._output import (
    DEPLOYMENT_COLUMNS,
    OUTCOME_COLUMNS,
    PIPELINE_COLUMNS,
    WAITED_OUTCOME_COLUMNS,
    deployment_json,
    deployment_row,
    format_row,
    json_line,
    outcome_json,
    outcome_rows,
    pipeline_json,
    pipeline_row,
    promotion_json,
    render_table,
    tally,
    version_hint,
)
from ._plan import PlanError, parse_plan, read_plan_text
from ._plan_runner import PlanOutcome, run_plan
from ._progress import ProgressLine
from ._resume import Recorder, check_journal, finish_recorded, open_run_journal
from ._wait_commands import promote_and_wait, report_promote_interrupted
from ._waiting import status_name, wait_options

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
        request = PromoteRequest(args.pipeline, args.source, args.target)
    except ValueError as exc:
        raise UsageError(flag_names(str(exc))) from None
    options = wait_options(args)
    async with make_client(args) as client:
        if options is not None:
            return await promote_and_wait(client, request, options, console)
        try:
            promotions = await client.pipelines.promote_request(request)
        except asyncio.CancelledError:
            report_promote_interrupted(console, request)
            raise
    if console.json:
        for p in promotions:
            console.line(json_line(promotion_json(request, p)))
    else:
        rows = [(str(p.target_app_id), str(p.deployment_id)) for p in promotions]
        console.line(render_table(("TARGET APP", "DEPLOYMENT"), rows))
    return EXIT_OK


# --- promote-many -------------------------------------------------------------------------


def _read_plan(name: str) -> str:
    return read_plan_text(name)


def emit_outcome(
    console: Console, outcome: PlanOutcome, widths: Sequence[int], *, waits: bool = False
) -> None:
    """Print one outcome: a JSON line (with ``deployments`` when the run ``waits``), or its
    table rows."""
    if console.json:
        console.line(json_line(outcome_json(outcome, waits=waits)))
    else:
        for row in outcome_rows(outcome, waits=waits):
            console.line(format_row(row, widths))


def format_indexes(indexes: Iterable[int]) -> str:
    """``0-3, 7, 9-10``: sorted indexes with runs collapsed."""
    runs: list[list[int]] = []
    for i in sorted(set(indexes)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def report_interrupted(
    console: Console,
    requests: Sequence[PromoteRequest],
    started: set[int],
    finished: Mapping[int, PlanOutcome],
    polled: Mapping[int, Mapping[uuid.UUID, Deployment]] | None = None,
) -> None:
    """Tell which promotions finished, which were sent without a reply, which were not sent;
    with ``--wait`` (``polled``: the deployments seen of each entry) also which were
    promoted and still being waited for."""
    ok = sum(1 for o in finished.values() if o.ok)
    console.note(
        f"interrupted: {len(finished)} of {len(requests)} promotions finished "
        f"({ok} ok, {len(finished) - ok} failed; their results are above)"
    )
    in_flight = sorted(started - set(finished))
    polled = polled or {}
    waited_for = [i for i in in_flight if polled.get(i)]
    if waited_for:
        console.note(
            f"{len(waited_for)} promoted and being waited for: stopping the wait does not "
            "cancel their deployments, last seen:"
        )
        for i in waited_for:
            for d in polled[i].values():
                console.err.write(
                    f"  entry {i}: app {d.app_id}: deployment {d.id} {status_name(d)}\n"
                )
    in_flight = [i for i in in_flight if not polled.get(i)]
    if in_flight:
        console.note(
            f"{len(in_flight)} sent without a reply yet: they may have happened, check "
            "before retrying them:"
        )
        for i in in_flight:
            r = requests[i]
            targets = ", ".join(str(t) for t in r.target_app_ids)
            console.err.write(
                f"  entry {i}: pipeline {r.pipeline_id}, source {r.source_app_id} -> {targets}\n"
            )
    not_sent = [i for i in range(len(requests)) if i not in started]
    if console.json:  # the same report as data, on stdout after the results
        report = {
            "interrupted": True,
            "finished": len(finished),
            "ok": ok,
            "failed": len(finished) - ok,
            "waiting": [
                {"index": i, "deployments": [_seen_json(d) for d in polled[i].values()]}
                for i in waited_for
            ],
            "sent_without_reply": in_flight,
            "not_sent": not_sent,
        }
        with contextlib.suppress(BrokenPipeError):
            console.line(json_line(report))
    if not_sent:
        console.note(f"{len(not_sent)} not sent: entries {format_indexes(not_sent)}")
    else:
        console.note("every promotion of the plan was sent")
    console.err.flush()


def _seen_json(deployment: Deployment) -> dict[str, str | None]:
    return {
        "app_id": str(deployment.app_id),
        "deployment_id": str(deployment.id),
        "status": status_name(deployment),
    }


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
    text = _read_plan(args.plan)
    source = "stdin" if args.plan == "-" else args.plan
    try:
        requests = parse_plan(text, source=source)
    except PlanError as exc:
        for problem in exc.problems:
            console.note(problem)
        console.note("the plan is invalid: nothing was sent")
        return EXIT_USAGE
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
    polled: dict[int, dict[uuid.UUID, Deployment]] = {}

    progress = ProgressLine(
        console.err, len(requests), enabled=console.progress, shares_terminal=console.out_is_tty
    )
    columns = OUTCOME_COLUMNS if options is None else WAITED_OUTCOME_COLUMNS
    entry_width = max(len(columns[0]), len(str(len(requests) - 1)))
    widths = (entry_width, 6, 36, 36, 0) if options is None else (entry_width, 6, 36, 36, 36, 0)

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
        recorder.outcome(to_send[outcome.index], outcome)

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
                        show(outcome)
            async with aclosing(
                run_plan(
                    client,
                    [requests[i] for i in to_send],
                    concurrency=args.concurrency,
                    on_start=on_start,
                    wait=options,
                    on_poll=record if options is not None else None,
                    ledger=FanoutLedger(on_outcome=on_outcome),
                )
            ) as outcomes:
                async for outcome in outcomes:
                    show(attrs.evolve(outcome, index=to_send[outcome.index]))
    except (asyncio.CancelledError, Exception):
        progress.clear()
        report_interrupted(console, requests, recorder.started, finished, polled)
        if journal is not None:
            console.note(f"to continue: the same command with --resume {journal.path}")
        raise
    finally:
        recorder.close()
        if journal is not None and journal.failure is not None:
            console.note(
                f"journal: writing {journal.path} failed ({journal.failure}); it is "
                "incomplete, do not --resume from it"
            )
    progress.finish()
    failed = sorted(i for i, o in finished.items() if not o.ok)
    which = f" (entries {format_indexes(failed)})" if failed else ""
    console.note(
        f"{len(requests)} promotions: {len(requests) - len(failed)} ok, {len(failed)} failed{which}"
    )
    recorded = sum(1 for o in finished.values() if o.recorded)
    if recorded:
        console.note(f"{recorded} taken from the journal, not sent again")
    if options is not None:
        console.note(tally([w for o in finished.values() for w in o.waited or ()]))
    hint = next(filter(None, (version_hint(o.error) for o in finished.values() if o.error)), None)
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

"""The API commands: ``promote``, ``promote-many``, ``pipelines list``, ``deployments list``.

Each is ``async def command(args, console) -> exit status``. API errors propagate to the
runner (exit 1, one line on stderr); bad input is a :class:`UsageError` (exit 2) raised
before anything is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from collections.abc import Iterable, Sequence
from contextlib import aclosing
from pathlib import Path

from .. import PromoteOutcome, PromoteRequest
from ._console import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Console, UsageError, make_client, take
from ._output import (
    DEPLOYMENT_COLUMNS,
    OUTCOME_COLUMNS,
    PIPELINE_COLUMNS,
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
)
from ._plan import PlanError, parse_plan
from ._plan_runner import run_plan
from ._progress import ProgressLine

__all__ = [
    "deployments_list",
    "emit_outcome",
    "format_indexes",
    "pipelines_list",
    "promote",
    "promote_many",
    "report_interrupted",
]


# --- promote ------------------------------------------------------------------------------


async def promote(args: argparse.Namespace, console: Console) -> int:
    try:
        request = PromoteRequest(args.pipeline, args.source, args.target)
    except ValueError as exc:
        raise UsageError(_flag_names(str(exc))) from None
    async with make_client(args) as client:
        try:
            promotions = await client.pipelines.promote_request(request)
        except asyncio.CancelledError:
            console.note(
                f"interrupted: the promotion of pipeline {request.pipeline_id} may have been "
                "sent; check the target apps' deployments before retrying"
            )
            raise
    if console.json:
        for p in promotions:
            console.line(json_line(promotion_json(request, p)))
    else:
        rows = [(str(p.target_app_id), str(p.deployment_id)) for p in promotions]
        console.line(render_table(("TARGET APP", "DEPLOYMENT"), rows))
    return EXIT_OK


def _flag_names(message: str) -> str:
    """Put the CLI's name for a field in front of a model's error:
    ``--target: target_app_ids[1]: 'x' is not a valid UUID ...``."""
    for field, flag in (
        ("pipeline_id", "PIPELINE"),
        ("source_app_id", "--source"),
        ("target_app_ids", "--target"),
    ):
        if message.startswith(field):
            return f"{flag}: {message}"
    return message


# --- promote-many -------------------------------------------------------------------------


def _read_plan(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{name}: cannot read the plan ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{name}: the plan is not UTF-8 text") from None


def emit_outcome(console: Console, outcome: PromoteOutcome, widths: Sequence[int]) -> None:
    """Print one outcome: a JSON line, or its table rows."""
    if console.json:
        console.line(json_line(outcome_json(outcome)))
    else:
        for row in outcome_rows(outcome):
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
    finished: dict[int, PromoteOutcome],
) -> None:
    """Tell which promotions finished, which were sent without a reply, which were not sent."""
    ok = sum(1 for o in finished.values() if o.ok)
    console.note(
        f"interrupted: {len(finished)} of {len(requests)} promotions finished "
        f"({ok} ok, {len(finished) - ok} failed; their results are above)"
    )
    in_flight = sorted(started - set(finished))
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
    if not_sent:
        console.note(f"{len(not_sent)} not sent: entries {format_indexes(not_sent)}")
    else:
        console.note("every promotion of the plan was sent")
    console.err.flush()


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
    client = make_client(args)  # a bad key or URL is found before anything is sent
    if not requests:
        await client.aclose()
        console.note("the plan is empty: nothing to do")
        return EXIT_OK
    started: set[int] = set()
    finished: dict[int, PromoteOutcome] = {}
    progress = ProgressLine(
        console.err, len(requests), enabled=console.progress, shares_terminal=console.out_is_tty
    )
    widths = (max(len(OUTCOME_COLUMNS[0]), len(str(len(requests) - 1))), 6, 36, 36, 0)
    if not console.json:
        console.line(format_row(OUTCOME_COLUMNS, widths))
    try:
        async with (
            client,
            aclosing(
                run_plan(client, requests, concurrency=args.concurrency, on_start=started.add)
            ) as outcomes,
        ):
            async for outcome in outcomes:
                finished[outcome.index] = outcome
                progress.advance(
                    ok=outcome.ok, write=functools.partial(emit_outcome, console, outcome, widths)
                )
    except asyncio.CancelledError:
        progress.clear()
        report_interrupted(console, requests, started, finished)
        raise
    progress.finish()
    failed = sorted(i for i, o in finished.items() if not o.ok)
    which = f" (entries {format_indexes(failed)})" if failed else ""
    console.note(
        f"{len(requests)} promotions: {len(requests) - len(failed)} ok, {len(failed)} failed{which}"
    )
    return EXIT_FAILED if failed else EXIT_OK


# --- listing ------------------------------------------------------------------------------


async def pipelines_list(args: argparse.Namespace, console: Console) -> int:
    async with make_client(args) as client:
        pipelines = client.pipelines.list(page_size=_page_size(args.limit))
        rows = []
        async for pipeline in take(pipelines, args.limit):
            if console.json:
                console.line(json_line(pipeline_json(pipeline)))
            else:
                rows.append(pipeline_row(pipeline))
    if not console.json:
        console.line(render_table(PIPELINE_COLUMNS, rows) if rows else "no pipelines")
    return EXIT_OK


async def deployments_list(args: argparse.Namespace, console: Console) -> int:
    async with make_client(args) as client:
        try:
            deployments = client.deployments.list(args.app, page_size=_page_size(args.limit))
        except ValueError as exc:
            raise UsageError(f"APP: {exc}") from None
        rows = []
        async for deployment in take(deployments, args.limit):
            if console.json:
                console.line(json_line(deployment_json(deployment)))
            else:
                rows.append(deployment_row(deployment))
    if not console.json:
        console.line(render_table(DEPLOYMENT_COLUMNS, rows) if rows else "no deployments")
    return EXIT_OK


def _page_size(limit: int | None) -> int:
    return 100 if limit is None else max(1, min(limit, 100))

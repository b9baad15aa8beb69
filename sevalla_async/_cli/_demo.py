"""``sevalla-async demo``: a fan-out on the embedded fake API, with one scripted failure.

No account and no network: a :class:`FakeSevalla` runs inside the process.
"""

from __future__ import annotations

import argparse
import functools
from contextlib import aclosing

from .. import SevallaClient
from ._commands import emit_outcome, format_indexes
from ._console import EXIT_OK, Console
from ._output import OUTCOME_COLUMNS, format_row
from ._plan_runner import run_plan
from ._progress import ProgressLine

__all__ = ["demo"]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


async def demo(args: argparse.Namespace, console: Console) -> int:
    from ..testing import FakeSevalla, Fault

    # The story goes to stdout for people; with --output json it moves to stderr so that
    # stdout stays JSON lines.
    say = console.note if console.json else console.line
    async with FakeSevalla() as fake:
        requests = fake.promote_requests(args.pipelines, targets=args.targets)
        say(
            f"Embedded fake Sevalla API at {fake.base_url} (no account, no network).\n"
            f"Promoting {_plural(len(requests), 'pipeline')} x {_plural(args.targets, 'target')}, "
            f"{args.concurrency} at a time; every reply is {args.delay:g}s late (scripted)."
        )
        if len(requests) > 1:
            failing = requests[len(requests) // 2]
            fake.inject(
                Fault.error(503, "Scripted outage (demo)"),
                method="POST",
                path=f"/pipelines/{failing.pipeline_id}/promote",
            )
            say(
                f"Scripted: entry {len(requests) // 2} gets a 503; a POST is not retried "
                "after a 5xx, because the promotion may have happened."
            )
        if len(requests) > 2:
            limited = requests[-1]
            fake.inject(
                Fault.rate_limited(0.1),
                method="POST",
                path=f"/pipelines/{limited.pipeline_id}/promote",
            )
            say(
                f"Scripted: entry {len(requests) - 1} gets a 429 with Retry-After: 0.1; "
                "the client waits and retries."
            )
        if args.delay > 0:
            fake.inject(Fault.slow(args.delay), times=len(requests) + 1, method="POST")
        progress = ProgressLine(
            console.err, len(requests), enabled=console.progress, shares_terminal=console.out_is_tty
        )
        widths = (max(len(OUTCOME_COLUMNS[0]), len(str(len(requests) - 1))), 6, 36, 36, 0)
        if not console.json:
            console.line("")
            console.line(format_row(OUTCOME_COLUMNS, widths))
        outcomes = []
        async with (
            SevallaClient(fake.api_key, base_url=fake.base_url) as client,
            aclosing(
                run_plan(client, requests, concurrency=args.concurrency, on_start=lambda _: None)
            ) as results,
        ):
            async for outcome in results:
                outcomes.append(outcome)
                progress.advance(
                    ok=outcome.ok, write=functools.partial(emit_outcome, console, outcome, widths)
                )
        progress.finish()
        failed = sorted(o.index for o in outcomes if not o.ok)
        deployments = sum(len(o.promotions or ()) for o in outcomes)
        which = f" (entry {format_indexes(failed)})" if failed else ""
        say(
            f"\nDone: {len(outcomes) - len(failed)} ok, {len(failed)} failed{which}; "
            f"{_plural(deployments, 'deployment')} started with "
            f"{_plural(len(fake.requests), 'HTTP request')}, at most {fake.max_in_flight} at once."
        )
    return EXIT_OK

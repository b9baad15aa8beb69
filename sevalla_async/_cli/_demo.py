"""``sevalla-async demo``: a fan-out on the embedded fake API with scripted failures, then a
wait for the deployments it started (one of which is scripted to fail), then a release in
waves whose canary wave fails (its error lines shown) and is rolled back, then a pinned
release that stops because a push moved the staging app's build (``_demo_release``).

No account and no network: a :class:`FakeSevalla` runs inside the process. Its deployments
move one status per poll (``waiting``, ``inProgress``, then ``success``), so the wait polls
every :data:`POLL_INTERVAL` seconds instead of the client's ``poll_interval`` (default 1 s,
less often when many waits share half the read budget), and the whole demo takes about a
second.
"""

from __future__ import annotations

import argparse
import functools
import uuid
from collections.abc import Callable, Sequence
from contextlib import aclosing
from operator import attrgetter
from typing import TYPE_CHECKING

from .. import Deployment, PromoteRequest, Promotion, SevallaClient, WaitAllError
from ._console import EXIT_OK, Console
from ._demo_release import release_stories
from ._output import format_row, plural
from ._plan_runner import PlanOutcome, run_plan
from ._promote_many import emit_outcome
from ._reports import format_indexes
from ._rows import OUTCOME_COLUMNS, describe_waited, tally
from ._waiting import StatusWatch, Waited, seen_json, waited_from_deployments, waited_from_error

if TYPE_CHECKING:
    from ..testing import FakeSevalla

__all__ = ["POLL_INTERVAL", "demo"]

POLL_INTERVAL = 0.05
"""Seconds between the demo's polls (the fake's deployments move one status per poll)."""

FAILING_SCRIPT = ["waiting", "inProgress", "failed"]

WAIT_COLUMNS = ("ENTRY", "TARGET APP", "DEPLOYMENT", "STATUSES SEEN")


def _story_teller(console: Console) -> Callable[[str], None]:
    """Print the story as it is written on stdout; with ``--output json``, on stderr, a
    note per line without the blank lines that space it out on a terminal."""
    if not console.json:
        return console.line

    def note(text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                console.note(line)

    return note


async def demo(args: argparse.Namespace, console: Console) -> int:
    from ..testing import FakeSevalla

    # The story goes to stdout for people; with --output json it moves to stderr so that
    # stdout stays JSON lines.
    say = _story_teller(console)
    async with FakeSevalla() as fake:
        requests = fake.promote_requests(args.pipelines, targets=args.targets)
        say(
            f"Embedded fake Sevalla API at {fake.base_url} (no account, no network).\n"
            f"Promoting {plural(len(requests), 'pipeline')} x {plural(args.targets, 'target')}, "
            f"{args.concurrency} at a time; every reply is {args.delay:g}s late (scripted)."
        )
        doomed = _script_bad_day(fake, requests, args.delay, say)

        async with SevallaClient(fake.api_key, base_url=fake.base_url) as client:
            outcomes = await _fan_out(client, requests, args, console)
            failed = sorted(o.index for o in outcomes if not o.ok)
            started = [(o.index, p) for o in outcomes for p in o.promotions or ()]
            which = f" (entry {format_indexes(failed)})" if failed else ""
            say(
                f"\nDone: {len(outcomes) - len(failed)} ok, {len(failed)} failed{which}; "
                f"{plural(len(started), 'deployment')} started with "
                f"{plural(len(fake.requests), 'HTTP request')}, "
                f"at most {fake.max_in_flight} at once."
            )
            if not started:
                return EXIT_OK
            say(
                f"\nWaiting for the {plural(len(started), 'deployment')}: on the fake each moves "
                f"one status per poll, and polls start every {POLL_INTERVAL:g}s here\n"
                "(the client's poll_interval defaults to 1 s; with many waits each is polled "
                "less often, all of them sharing half the API's read budget).\n"
                f"Scripted: the deployment on app {doomed} (entry 0) ends failed."
            )
            before = len(fake.requests)
            waited = await _wait(client, started, console)
            polls = len(fake.requests) - before
            say(f"\nWaited: {tally(waited)}; {plural(polls, 'poll')}.")
            for w in waited:
                if not w.succeeded:
                    say(
                        f"Not deployed: app {w.app_id}, deployment {w.deployment_id}: "
                        f"{describe_waited(w)}."
                    )
            await release_stories(fake, client, console, say, POLL_INTERVAL)
    return EXIT_OK


def _script_bad_day(
    fake: FakeSevalla, requests: Sequence[PromoteRequest], delay: float, say: Callable[[str], None]
) -> uuid.UUID:
    """Script the demo's faults on ``fake`` (a 503, a 429, a slow reply, a deployment that
    fails), telling the story of each; returns the app whose deployment will fail."""
    from ..testing import Fault

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
    # Entry 0 is never the one that gets the 503, so its first target does deploy.
    doomed = requests[0].target_app_ids[0]
    fake.script_deployments(FAILING_SCRIPT, app_id=doomed)
    if delay > 0:
        fake.inject(Fault.slow(delay), times=len(requests) + 1, method="POST")
    return doomed


async def _fan_out(
    client: SevallaClient,
    requests: Sequence[PromoteRequest],
    args: argparse.Namespace,
    console: Console,
) -> list[PlanOutcome]:
    """Promote every request, printing each outcome as it comes; the outcomes, in plan
    order."""
    progress = console.progress_line(len(requests))
    widths = (max(len(OUTCOME_COLUMNS[0]), len(str(len(requests) - 1))), 6, 36, 36, 0)
    if not console.json:
        console.line("")
        console.line(format_row(OUTCOME_COLUMNS, widths))
    outcomes = []
    async with aclosing(
        run_plan(client, requests, concurrency=args.concurrency, on_start=lambda _: None)
    ) as results:
        async for outcome in results:
            outcomes.append(outcome)
            progress.advance(
                ok=outcome.ok, write=functools.partial(emit_outcome, console, outcome, widths)
            )
    progress.finish()
    return sorted(outcomes, key=attrgetter("index"))


async def _wait(
    client: SevallaClient, started: Sequence[tuple[int, Promotion]], console: Console
) -> list[Waited]:
    """Wait for every started deployment, printing each one's statuses as it finishes."""
    entry_of = {p.deployment_id: index for index, p in started}
    progress = console.progress_line(len(started))
    widths = (len(WAIT_COLUMNS[0]), 36, 36, 0)
    if not console.json:
        console.line("")
        console.line(format_row(WAIT_COLUMNS, widths))
    watch: StatusWatch

    def finished(deployment: Deployment, _elapsed: float) -> None:
        if deployment.is_finished:
            show = functools.partial(_print_finished, console, watch, entry_of, widths, deployment)
            progress.advance(ok=deployment.succeeded, write=show)

    watch = StatusWatch(finished)
    # The fake's read budget is huge, so the polls' share of it hardly paces them here;
    # against the API all polls of the client spend at most half its 400 reads a minute.
    promotions = [p for _, p in started]
    try:
        deployments = await client.deployments.wait_all(
            promotions,
            timeout=60,
            poll_interval=POLL_INTERVAL,
            max_poll_interval=4 * POLL_INTERVAL,
            on_poll=watch,
        )
        waited = waited_from_deployments(deployments)
    except WaitAllError as exc:  # not scripted, but a demo shows it honestly if it happens
        waited = waited_from_error(exc)
    progress.finish()
    return waited


def _print_finished(
    console: Console,
    watch: StatusWatch,
    entry_of: dict[uuid.UUID, int],
    widths: Sequence[int],
    deployment: Deployment,
) -> None:
    trail = watch.trail(deployment.id)
    data = {**seen_json(deployment), "statuses": trail}
    row = (
        str(entry_of.get(deployment.id, "-")),
        str(deployment.app_id),
        str(deployment.id),
        " > ".join(trail),
    )
    console.emit(data, format_row(row, widths))

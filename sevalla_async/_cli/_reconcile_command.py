"""``sevalla-async reconcile``: was a promotion whose outcome is unknown made?

For a run that left no journal (a ``promote`` stopped by Ctrl-C, a lost connection): given
the request (``--pipeline``, ``--source``, ``--target``; or a plan file) and when it was sent
(``--sent-at``, as the Ctrl-C report prints it), it reads the target apps' deployment
histories (``client.pipelines.reconcile``: GETs only, nothing is ever sent) and prints
each target's verdict: ``promoted`` (with the deployment), ``not promoted`` (safe to
promote again) or ``undecided`` (look again later). Exit status 0 when every target is
decided, 1 when some are undecided, 2 for bad arguments.

:func:`reconcile_command_line` is the exact command a Ctrl-C report prints for a request.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from datetime import datetime, timedelta, timezone

from .. import PromoteRequest, TargetVerdict
from .._engine import Engine
from .._ids import shown
from .._reconcile import DEFAULT_SETTLE, plausible_sent_at
from ._arguments import non_negative_seconds
from ._console import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Console, UsageError, make_client
from ._output import clean_text, format_row, plural
from ._plan import load_plan, parse_plan

__all__ = ["configure", "format_sent_at", "reconcile", "reconcile_command_line"]

HELP = """\
Decide, from the target apps' deployment histories, whether a promotion whose outcome is
unknown was made: a promote interrupted by Ctrl-C (its report prints this command, ready to
run), a connection lost after sending, a run that kept no journal. It only reads (GETs):
nothing is ever promoted.

Give the request as --pipeline, --source and --target (repeat for several), or a
promote-many plan file (every entry is looked at), and --sent-at: when the request was
sent, ISO 8601 with a UTC offset (e.g. 2025-01-31T09:30:00.123456Z, as the Ctrl-C report
prints it). For a plan, give the time the run started and a --settle of at least the
run's length plus the default: a deployment is looked for from --sent-at to --sent-at +
--settle.

Each target's verdict is printed (a row each on a terminal, else a JSON line with
"index", "pipeline_id", "source_app_id", "target_app_id", "verdict" (promoted,
not_promoted or undecided), "promoted" (true, false or null), "deployment_id" and
"reason"): promoted names the deployment the promotion created; not promoted means the
evidence shows it was not made (safe to promote that target again); undecided means it
cannot tell yet (within --settle seconds of --sent-at, or a history could not be read):
run the command again later.

exit status:
  0    every target is decided (promoted or not promoted)
  1    some target is undecided: run the same command again later
  2    bad arguments or plan
"""

COLUMNS = ("ENTRY", "TARGET APP", "VERDICT", "DEPLOYMENT", "REASON")
_WIDTHS = (5, 36, 12, 36, 0)
_LOOKS_AT_ONCE = 4  # entries of a plan looked at concurrently (each is a few GETs)


def format_sent_at(moment: datetime) -> str:
    """``2025-01-31T09:30:00.123456Z``: an aware time in UTC, as ``--sent-at`` reads it."""
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat() + "Z"


def _sent_at(text: str) -> datetime:
    """An argparse ``type``: an ISO 8601 time with a UTC offset (``Z`` or ``+HH:MM``)."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time such as 2025-01-31T09:30:00Z, got {shown(text)}"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{shown(text)} has no UTC offset: add Z (UTC) or +HH:MM, as the Ctrl-C report "
            "prints it"
        )
    if not plausible_sent_at(moment):
        raise argparse.ArgumentTypeError(
            f"{shown(text)} is not a time a request was sent (from 1970 to 9000, in UTC)"
        )
    return moment


def reconcile_command_line(request: PromoteRequest, sent_at: datetime) -> str:
    """The command that reconciles ``request`` sent at ``sent_at`` (ready to paste)."""
    words = ["sevalla-async", "reconcile", "--pipeline", str(request.pipeline_id)]
    words += ["--source", str(request.source_app_id)]
    for target in request.target_app_ids:
        words += ["--target", str(target)]
    words += ["--sent-at", format_sent_at(sent_at)]
    return shlex.join(words)


def configure(p: argparse.ArgumentParser) -> None:
    """The arguments of ``reconcile`` (the parser of the command, made by ``_parser``)."""
    p.add_argument("plan", nargs="?", metavar="PLAN", help="a promote-many plan (- reads stdin)")
    group = p.add_argument_group("the request (instead of PLAN)")
    group.add_argument("--pipeline", metavar="ID", help="the pipeline id")
    group.add_argument("--source", metavar="ID", help="the source app id")
    group.add_argument(
        "--target", action="append", metavar="ID", help="a target app id (repeat for several)"
    )
    p.add_argument(
        "--sent-at",
        required=True,
        type=_sent_at,
        metavar="TIME",
        help="when the request was sent: ISO 8601 with a UTC offset (2025-01-31T09:30:00Z)",
    )
    p.add_argument(
        "--settle",
        type=non_negative_seconds,
        default=DEFAULT_SETTLE,
        metavar="SECONDS",
        help="how long after --sent-at a target's history must stay without the promotion "
        f"to call it not promoted (default {DEFAULT_SETTLE:g})",
    )
    p.set_defaults(handler=reconcile)


_FLAGS = {"pipeline_id": "--pipeline", "source_app_id": "--source", "target_app_ids": "--target"}


def _requests(args: argparse.Namespace, console: Console) -> list[PromoteRequest] | None:
    """The requests to look at (``None``: a bad plan, already reported)."""
    flags = (args.pipeline, args.source, args.target)
    if args.plan is not None:
        if any(f is not None for f in flags):
            raise UsageError("give PLAN or --pipeline/--source/--target, not both")
        return load_plan(args.plan, console, parse_plan)
    if any(f is None for f in flags):
        raise UsageError("give PLAN, or all of --pipeline, --source and --target")
    try:
        return [PromoteRequest(args.pipeline, args.source, args.target)]
    except ValueError as exc:
        message = str(exc)
        field = message.partition(":")[0].partition("[")[0]
        raise UsageError(f"{_FLAGS.get(field, field)}: {message}") from None


async def reconcile(args: argparse.Namespace, console: Console) -> int:
    requests = _requests(args, console)
    if requests is None:
        return EXIT_USAGE
    sent_at: datetime = args.sent_at
    async with make_client(args) as client:
        if not console.json:
            console.line(format_row(COLUMNS, _WIDTHS))

        async def look(_: int, request: PromoteRequest) -> list[TargetVerdict]:
            return await client.pipelines.reconcile(request, sent_at=sent_at, settle=args.settle)

        verdicts = await _in_order(requests, look, console)
    undecided = sum(1 for v in verdicts if v.promoted is None)
    promoted = sum(1 for v in verdicts if v.promoted)
    console.note(
        f"{plural(len(verdicts), 'target')}: {promoted} promoted, "
        f"{len(verdicts) - promoted - undecided} not promoted, {undecided} undecided"
    )
    if not undecided:
        return EXIT_OK
    settled = sent_at + timedelta(seconds=args.settle)
    if settled > datetime.now(timezone.utc):
        console.note(
            f"not promoted can be said only after {format_sent_at(settled)} (--sent-at + "
            "--settle): run the same command again then"
        )
    else:
        console.note("run the same command again later")
    return EXIT_FAILED


async def _in_order(
    requests: Sequence[PromoteRequest],
    look: Callable[[int, PromoteRequest], Awaitable[list[TargetVerdict]]],
    console: Console,
) -> list[TargetVerdict]:
    """Look at every request (a few at once), printing each entry's verdicts in plan order
    as soon as the entries before it are printed."""

    async def numbered(index: int, request: PromoteRequest) -> tuple[int, list[TargetVerdict]]:
        return index, await look(index, request)

    engine = Engine(requests, numbered, concurrency=_LOOKS_AT_ONCE)
    ready: dict[int, list[TargetVerdict]] = {}
    everything: list[TargetVerdict] = []
    printed = 0
    async with aclosing(engine.stream()) as stream:
        async for index, verdicts in stream:
            ready[index] = verdicts
            while printed in ready:
                found = ready.pop(printed)
                for verdict in found:
                    _print(console, printed, requests[printed], verdict)
                everything += found
                printed += 1
    return everything


def verdict_name(verdict: TargetVerdict) -> str:
    """``promoted``, ``not_promoted`` or ``undecided``."""
    if verdict.promoted is None:
        return "undecided"
    return "promoted" if verdict.promoted else "not_promoted"


def _print(console: Console, index: int, request: PromoteRequest, verdict: TargetVerdict) -> None:
    deployment = None if verdict.deployment is None else str(verdict.deployment.id)
    data = {
        "index": index,
        "pipeline_id": str(request.pipeline_id),
        "source_app_id": str(request.source_app_id),
        "target_app_id": str(verdict.target_app_id),
        "verdict": verdict_name(verdict),
        "promoted": verdict.promoted,
        "deployment_id": deployment,
        "reason": clean_text(verdict.reason),
    }
    cells = (
        str(index),
        str(verdict.target_app_id),
        verdict_name(verdict).replace("_", " "),
        deployment or "-",
        clean_text(verdict.reason),
    )
    console.emit(data, format_row(cells, _WIDTHS))

"""The argparse definition of ``sevalla-async`` (global options work before or after the
command: ``sevalla-async --output json promote ...`` and ``sevalla-async promote ...
--output json`` are the same)."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from typing import Any

from .._ids import shown
from .._reconcile import DEFAULT_RECONCILE_TIMEOUT, DEFAULT_SETTLE
from .._version import __version__
from . import _reconcile_command
from ._commands import deployments_list, pipelines_list, promote, promote_many
from ._demo import demo
from ._diff import add_diff_command
from ._fake_scenario import add_scenario_options
from ._fake_server import fake_server
from ._release import release
from ._wait_commands import wait

__all__ = ["build_parser"]

DESCRIPTION = """\
Promote Sevalla pipelines and inspect deployments from the command line.

The API key comes from --api-key or SEVALLA_API_KEY (prefer the variable: command lines are
visible to other users), the API root from --base-url or SEVALLA_BASE_URL.
"""

EPILOG = """\
exit status:
  0    success
  1    the API refused or failed (or, for promote-many, at least one promotion did);
       wait and --wait: a deployment did not end in success, or the wait timed out
  2    bad arguments or input (nothing was sent)
  (release: 0 every wave passed, 1 stopped by a failed wave, 2 invalid plan)
  (reconcile: 0 every target decided, 1 some target undecided: run it again later)
  130  interrupted (Ctrl-C); what was already sent is reported on stderr
  143  stopped by SIGTERM (reported as for Ctrl-C)

examples:
  sevalla-async pipelines list
  sevalla-async promote PIPELINE --source APP --target APP --target APP
  sevalla-async promote PIPELINE --source APP --target APP --wait
  sevalla-async wait APP DEPLOYMENT --wait-timeout 600
  sevalla-async promote-many plan.json --concurrency 8 > results.jsonl
  sevalla-async release waves.json --on-failure rollback
  sevalla-async promote-many plan.json --journal run.jsonl      # resumable
  sevalla-async promote-many plan.json --resume run.jsonl       # after a crash
  sevalla-async reconcile --pipeline P --source S --target T --sent-at 2025-01-31T09:30:00Z
  sevalla-async fake-server      # a local fake API to try all of this
  sevalla-async demo             # a fan-out, a wait and a release on an embedded fake API
"""

PLAN_HELP = """\
The plan is a JSON list of objects, one per promotion, or JSON Lines (one object per
line):

  [{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["...", "..."]}]

The whole plan is checked first; any bad entry is reported with its index (from 0) and
field, and nothing is sent (exit status 2); so is an entry with a target an earlier entry
already promotes (same pipeline and source). Results are printed as each promotion
finishes: with --output json one line per entry with its "index", "ok", "promotions" and
"error". With --wait each entry is promoted, then its deployments are waited for (the
--wait-timeout counts per entry); its line gains "deployments" (each one's "app_id",
"deployment_id", final "status" and "error") and it is ok only when all ended in
success. On a terminal a progress line is kept on stderr. Exit status 0 when every
promotion succeeded, 1 when any failed. Ctrl-C stops at once and reports which
promotions were sent without a reply (they may have happened), which were being waited
for (their deployments keep running) and which were not sent; SIGTERM does the same.

Journal and resume: with --journal FILE every entry's events are appended to FILE as they
happen ("sent" before the request leaves, then its "result" with its state: promoted,
rejected, not_sent or unknown), so even a killed run leaves a record. --resume FILE runs
the same plan again: what was promoted or rejected is reported from the journal, what
is unknown is reconciled first, and nothing is promoted twice. The journal is off by
default: on an orderly stop (an error, Ctrl-C, SIGTERM, a closed pipe) every entry is
already reported on stdout/stderr, and a file written unasked into the current directory
surprises in CI and read-only containers; turn it on for any run you may need to resume
after a crash.
"""


RELEASE_HELP = """\
The plan is a JSON list of waves, each a list of promotions:

  [[{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["..."]}],
   [{"pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["...", "..."]}]]

or JSON Lines, one promotion per line with a "wave" number (waves run in ascending order):

  {"wave": 0, "pipeline_id": "...", "source_app_id": "...", "target_app_ids": ["..."]}

The whole plan is checked first; any problem is reported with its wave, entry (from 0)
and field, and nothing is sent (exit status 2). A target in two entries is refused. On a
terminal one row per change of a target's status (WAVE, TARGET APP, STATUS) and a line per
wave; otherwise JSON lines, one per event ("event": "wave", "target", "entry", and a last
"release" with "completed" and "stopped_at"). --dry-run prints the requests instead.

exit status:
  0    every wave passed
  1    a wave failed (a deployment did not succeed): the release stopped there
  2    the plan or the arguments are invalid: nothing was sent
  130  interrupted (Ctrl-C): entries in flight are reported on stderr
"""


def _whole_number(minimum: int, rule: str) -> Callable[[str], int]:
    """An argparse ``type`` for integers of at least ``minimum`` (``rule`` says so)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number, got {shown(text)}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{rule}, got {value}")
        return value

    return parse


_positive_int = _whole_number(1, "must be at least 1")
_count = _whole_number(0, "must not be negative")


def _seconds(text: str, *, zero: bool = False) -> float:
    """An argparse ``type``: seconds, more than 0 (or, with ``zero``, not negative)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {shown(text)}") from None
    if zero and not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    if not zero and not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def _non_negative_seconds(text: str) -> float:
    return _seconds(text, zero=True)


def _wait_options(parser: argparse.ArgumentParser, *, flag: bool) -> None:
    """The waiting options; with ``flag`` also ``--wait`` (the others then need it). Their
    default is "not given" (``None``); ``_waiting.wait_options`` resolves them."""
    group = parser.add_argument_group("waiting" + (" (with --wait)" if flag else ""))
    if flag:
        group.add_argument(
            "--wait",
            action="store_true",
            help="wait for the deployments to finish and print each one's final status "
            "(exit 1 unless all ended in success)",
        )
    group.add_argument(
        "--wait-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up waiting after SECONDS (default 900); the deployments keep running",
    )
    group.add_argument(
        "--poll-interval",
        type=_seconds,
        metavar="SECONDS",
        help="shortest interval between two polls of one deployment (default 1); many "
        "waits at once poll less often, sharing half the API's read budget",
    )
    group.add_argument(
        "--polls-per-minute",
        type=_positive_int,
        metavar="N",
        help="polls this process starts a minute at most, all waits together (default: "
        "half the API's read budget, 200 of 400 a minute; lower it when several processes "
        "share the key)",
    )


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, got {value}")
    return value


def _global_options(
    parser: argparse.ArgumentParser, *, in_command: bool, api: bool = True, progress: bool = True
) -> None:
    """The options every command takes. In a command their default is "not given", so a
    value given before the command is not overwritten. A command that does not call the
    API (``api=False``) neither lists nor takes ``--api-key``/``--base-url``/``--timeout``
    after its name; one without a progress line, ``--progress`` and ``-v``."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_command else value

    group = parser.add_argument_group("global options")
    if api:
        _api_options(group, default)
    group.add_argument(
        "--output",
        choices=("auto", "json", "table"),
        default=default(None),  # None: not given (auto, or a command's own default)
        help="json: one JSON object per line; table: aligned columns; "
        "auto (default): a table on a terminal, JSON otherwise",
    )
    if not progress:
        return
    group.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=default(None),
        help="show a live progress line on stderr (default: when stderr is a terminal)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log every API call (the SDK's DEBUG log, secrets redacted) to stderr",
    )


def _api_options(group: Any, default: Callable[[Any], Any]) -> None:
    group.add_argument(
        "--api-key",
        metavar="KEY",
        default=default(None),
        help="the API key (default: $SEVALLA_API_KEY)",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help="the API root (default: $SEVALLA_BASE_URL, else https://api.sevalla.com/v3)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=default(30.0),
        help="time allowed for each API call, its retries included (default 30)",
    )


def _journal_options(p: argparse.ArgumentParser, resume_help: str | None = None) -> None:
    """``--journal``, ``--resume`` and the reconciling options of a resume."""
    group = p.add_argument_group("journal and resume")
    group.add_argument(
        "--journal",
        metavar="FILE",
        help="append one JSON line per event (sent, result) to FILE as it happens, flushed "
        "and synced, so a run stopped any way (kill -9 included) can be resumed; off by "
        "default (see below). FILE must be new or empty: a journal records one run (to "
        "continue it: --resume FILE; else remove it); one run at a time holds it (a second "
        "is refused, exit status 2). If FILE cannot be written (a full disk), nothing more "
        "is sent: what it could not record as sent is reported not_sent (exit status 1)",
    )
    group.add_argument(
        "--resume",
        metavar="FILE",
        help=resume_help
        or "continue the run journaled in FILE (same plan): promoted and rejected entries "
        "are reported, not sent; unknown ones are reconciled from the target apps' "
        "deployment histories and only targets verified not promoted are sent; entries "
        "never sent are sent. The journal goes on in FILE",
    )
    group.add_argument(
        "--reconcile-settle",
        type=_non_negative_seconds,
        default=DEFAULT_SETTLE,
        metavar="SECONDS",
        help="with --resume: how long after a request was sent its absence from a target's "
        f"history proves it was not made (default {DEFAULT_SETTLE:g})",
    )
    group.add_argument(
        "--reconcile-timeout",
        type=_non_negative_seconds,
        default=DEFAULT_RECONCILE_TIMEOUT,
        metavar="SECONDS",
        help="with --resume: stop looking after this long; an entry still undecided stays "
        f"unknown and is not sent (default {DEFAULT_RECONCILE_TIMEOUT:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``sevalla-async`` argument parser; each command sets ``handler``."""
    parser = argparse.ArgumentParser(
        prog="sevalla-async",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, in_command=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: Any,
        name: str,
        help_text: str,
        description: str | None = None,
        *,
        api: bool = True,
        progress: bool = True,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name,
            help=help_text,
            description=description or help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _global_options(sub, in_command=True, api=api, progress=progress)
        return sub

    p = command(
        commands,
        "promote",
        "promote the latest successful build of an app to one or more apps",
        "Promote the latest successful build of the --source app of PIPELINE to every "
        "--target app; prints the deployment started on each target (with --wait, waits for "
        "them and prints each one's final status).",
    )
    p.add_argument("pipeline", metavar="PIPELINE", help="the pipeline id")
    p.add_argument("--source", required=True, metavar="APP", help="the app to promote from")
    p.add_argument(
        "--target",
        required=True,
        action="append",
        metavar="APP",
        help="an app to promote to (repeat for several)",
    )
    _wait_options(p, flag=True)
    p.set_defaults(handler=promote, writes=True)

    p = command(
        commands,
        "promote-many",
        "run every promotion of a plan file, concurrently",
        "Run every promotion of PLAN (a JSON or JSON Lines file, or - for stdin).\n\n" + PLAN_HELP,
    )
    p.add_argument("plan", metavar="PLAN", help="the plan file (- reads stdin)")
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=8,
        metavar="N",
        help="promotions in flight at once (default 8; with --wait, entries being promoted "
        "or waited for)",
    )
    _wait_options(p, flag=True)
    _journal_options(p)
    p.set_defaults(handler=promote_many, writes=True)

    p = command(
        commands,
        "release",
        "promote the waves of a plan one after the other, stopping at a failed wave",
        "Promote the waves of PLAN (a JSON or JSON Lines file, or - for stdin) one after the "
        "other: each wave is promoted, its deployments waited for, and the next wave starts "
        "only if every deployment succeeded.\n\n" + RELEASE_HELP,
    )
    p.add_argument("plan", metavar="PLAN", help="the release plan (- reads stdin)")
    p.add_argument(
        "--on-failure",
        choices=("stop", "rollback"),
        default="stop",
        help="when a wave fails: stop (default), or roll back the targets of that wave whose "
        "deployment did not succeed, wait for the rollbacks, then stop",
    )
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=8,
        metavar="N",
        help="entries of a wave promoted or waited for at once (default 8)",
    )
    p.add_argument(
        "--reconcile",
        action="store_true",
        help="settle a promotion whose outcome is unknown (a 5xx, a lost connection) by "
        "reading the targets' deployments, instead of failing the wave",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print every request the release would send, wave by wave, and send nothing",
    )
    _wait_options(p, flag=False)
    _journal_options(
        p,
        "continue the release journaled in FILE (same plan): entries promoted are not sent "
        "again (their deployments are waited for and gated); unknown ones are reconciled "
        "from the target apps' deployment histories and only targets verified not promoted "
        "are sent; the others are sent. Finished waves pass again without a promotion. The "
        "journal goes on in FILE",
    )
    p.set_defaults(handler=release, writes=True)

    p = command(
        commands,
        "reconcile",
        "decide whether a promotion whose outcome is unknown was made (reads only)",
        "Decide whether a promotion whose outcome is unknown was made.\n\n"
        + _reconcile_command.HELP,
    )
    _reconcile_command.configure(p)

    p = command(
        commands,
        "wait",
        "wait for a deployment to finish",
        textwrap.dedent(
            """\
            Poll deployment DEPLOYMENT of APP until it has finished and print it. Exit
            status 0 when it ended in success; 1 when it ended failed, cancelled or skipped,
            or the wait timed out (stderr says which, with the last status seen). On a
            terminal (or with --progress) each status change is shown on stderr. Ctrl-C
            stops waiting, not the deployment."""
        ),
    )
    p.add_argument("app", metavar="APP", help="the application id")
    p.add_argument("deployment", metavar="DEPLOYMENT", help="the deployment id")
    _wait_options(p, flag=False)
    p.set_defaults(handler=wait)

    pipelines = command(commands, "pipelines", "pipelines of the account")
    pipeline_commands = pipelines.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = command(pipeline_commands, "list", "list every pipeline (id, name, type, stages)")
    p.add_argument("--limit", type=_count, metavar="N", help="stop after N pipelines")
    p.set_defaults(handler=pipelines_list)

    deployments = command(commands, "deployments", "deployments of an app")
    deployment_commands = deployments.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = command(deployment_commands, "list", "list the deployments of APP, most recent first")
    p.add_argument("app", metavar="APP", help="the application id")
    p.add_argument("--limit", type=_count, metavar="N", help="stop after N deployments")
    p.set_defaults(handler=deployments_list)

    add_diff_command(commands, command)  # sevalla-async diff PIPELINE (_diff.py)

    p = command(
        commands,
        "fake-server",
        "run a fake Sevalla API locally (for development; no account needed)",
        textwrap.dedent(
            """\
            Run FakeSevalla, the SDK's fake of the Sevalla API, until Ctrl-C. It seeds a few
            pipelines and prints its URL, its key and commands to copy. With --output json
            (or --output auto when stdout is not a terminal) it prints one JSON line:
            base_url, api_key and the seeded pipelines."""
        ),
        api=False,
        progress=False,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--key", help="the API key it accepts (default: a random one)")
    p.add_argument(
        "--pipelines", type=_count, default=3, metavar="N", help="pipelines to seed (default 3)"
    )
    p.add_argument(
        "--targets",
        type=_positive_int,
        default=2,
        metavar="N",
        help="apps in each stage of a seeded pipeline (default 2)",
    )
    p.add_argument(
        "--plan-file",
        metavar="PATH",
        help="also write a promote-many plan for the seeded pipelines to PATH",
    )
    add_scenario_options(p)  # --fail-app, --slow, --push-after (_fake_scenario.py)
    p.set_defaults(handler=fake_server, human_default=True, interrupt_status=0)

    p = command(
        commands,
        "demo",
        "promote a handful of pipelines on an embedded fake API, wait for the "
        "deployments, then release in waves with a failing canary (no account, no network)",
        "Promote a handful of pipelines on an embedded fake API, wait for the deployments, "
        "then release in waves: the canary wave fails and is rolled back (no account, no "
        "network). Like every command it prints a table on a "
        "terminal and JSON lines otherwise (--output); the story goes to stderr then.",
        api=False,
    )
    p.add_argument(
        "--pipelines", type=_positive_int, default=6, metavar="N", help="pipelines (default 6)"
    )
    p.add_argument(
        "--targets", type=_positive_int, default=2, metavar="N", help="targets each (default 2)"
    )
    p.add_argument(
        "--concurrency", type=_positive_int, default=3, metavar="N", help="in flight (default 3)"
    )
    p.add_argument(
        "--delay",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="how late the fake answers each promotion, to watch the fan-out (default 0.2)",
    )
    p.set_defaults(handler=demo)
    return parser

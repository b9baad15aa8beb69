"""The argparse definition of ``sevalla-async``, built from a table of the commands (the
argument types and the option groups they share are in :mod:`._arguments`; the long help
texts in :mod:`._parser_text`) (global options work before or after the command:
``sevalla-async --output json promote ...`` and ``sevalla-async promote ... --output json``
are the same)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .._version import __version__
from . import _diff, _reconcile_command
from ._arguments import (
    Option,
    add_options,
    build_options,
    count,
    global_options,
    journal_options,
    number_opt,
    opt,
    port,
    positive_int,
    wait_options,
)
from ._commands import deployments_list, pipelines_list, promote
from ._demo import demo
from ._fake_scenario import add_scenario_options
from ._fake_server import serve
from ._parser_text import (
    DEMO_DESCRIPTION,
    DESCRIPTION,
    EPILOG,
    FAKE_SERVER_DESCRIPTION,
    PLAN_HELP,
    RELEASE_DESCRIPTION,
    RELEASE_RESUME_HELP,
    WAIT_DESCRIPTION,
)
from ._promote_many import promote_many
from ._release import release
from ._wait_commands import wait

__all__ = ["build_parser", "command_says"]

# --- commands --------------------------------------------------------------------------------

Step = Option | Callable[[argparse.ArgumentParser], None]
"""An option of a command, or a function that adds a group of them."""


@attrs.frozen
class Command:
    """One command of the table: its name, help, arguments (in order) and defaults; with
    ``actions``, the sub-commands it takes as ``ACTION``."""

    name: str
    help: str
    description: str | None = None
    steps: tuple[Step, ...] = ()
    defaults: Mapping[str, Any] = attrs.field(factory=dict)
    actions: tuple[Command, ...] = ()
    api: bool = True
    progress: bool = True


_LIMIT = "stop after N {}"
_APP = opt("app", metavar="APP", help="the application id")

COMMANDS: tuple[Command, ...] = (
    Command(
        "promote",
        "promote the latest successful build of an app to one or more apps",
        "Promote the latest successful build of the --source app of PIPELINE to every "
        "--target app; prints the deployment started on each target (with --wait, waits for "
        "them and prints each one's final status).",
        (
            opt("pipeline", metavar="PIPELINE", help="the pipeline id"),
            opt("--source", required=True, metavar="APP", help="the app to promote from"),
            opt(
                "--target",
                required=True,
                action="append",
                metavar="APP",
                help="an app to promote to (repeat for several)",
            ),
            wait_options(flag=True),
            build_options(skip_current=False),
        ),
        {"handler": promote, "writes": True},
    ),
    Command(
        "promote-many",
        "run every promotion of a plan file, concurrently",
        "Run every promotion of PLAN (a JSON or JSON Lines file, or - for stdin).\n\n" + PLAN_HELP,
        (
            opt("plan", metavar="PLAN", help="the plan file (- reads stdin)"),
            number_opt(
                "--concurrency",
                positive_int,
                8,
                "promotions in flight at once (default 8; with --wait, entries being "
                "promoted or waited for)",
            ),
            wait_options(flag=True),
            build_options(skip_current=False),
            journal_options(),
        ),
        {"handler": promote_many, "writes": True},
    ),
    Command(
        "release",
        "promote the waves of a plan one after the other, stopping at a failed wave",
        RELEASE_DESCRIPTION,
        (
            opt("plan", metavar="PLAN", help="the release plan (- reads stdin)"),
            opt(
                "--on-failure",
                choices=("stop", "rollback"),
                default="stop",
                help="when a wave fails: stop (default), or roll back the targets of that wave "
                "whose deployment did not succeed, wait for the rollbacks, then stop",
            ),
            number_opt(
                "--concurrency",
                positive_int,
                8,
                "entries of a wave promoted or waited for at once (default 8)",
            ),
            opt(
                "--reconcile",
                action="store_true",
                help="settle a promotion whose outcome is unknown (a 5xx, a lost connection) by "
                "reading the targets' deployments, instead of failing the wave",
            ),
            opt(
                "--dry-run",
                action="store_true",
                help="print every request the release would send, wave by wave, and send nothing",
            ),
            wait_options(flag=False),
            build_options(skip_current=True, repin=True),
            journal_options(RELEASE_RESUME_HELP),
        ),
        {"handler": release, "writes": True},
    ),
    Command(
        "reconcile",
        "decide whether a promotion whose outcome is unknown was made (reads only)",
        "Decide whether a promotion whose outcome is unknown was made.\n\n"
        + _reconcile_command.HELP,
        (_reconcile_command.configure,),
    ),
    Command(
        "wait",
        "wait for a deployment to finish",
        WAIT_DESCRIPTION,
        (
            _APP,
            opt("deployment", metavar="DEPLOYMENT", help="the deployment id"),
            wait_options(flag=False),
        ),
        {"handler": wait},
    ),
    Command(
        "pipelines",
        "pipelines of the account",
        actions=(
            Command(
                "list",
                "list every pipeline (id, name, type, stages)",
                steps=(opt("--limit", type=count, metavar="N", help=_LIMIT.format("pipelines")),),
                defaults={"handler": pipelines_list},
            ),
        ),
    ),
    Command(
        "deployments",
        "deployments of an app",
        actions=(
            Command(
                "list",
                "list the deployments of APP, most recent first",
                steps=(
                    _APP,
                    opt("--limit", type=count, metavar="N", help=_LIMIT.format("deployments")),
                ),
                defaults={"handler": deployments_list},
            ),
        ),
    ),
    Command(
        "diff",
        "show each stage's apps and builds, and which apps are behind",
        _diff.HELP,
        (
            opt("pipeline", metavar="PIPELINE", help="the pipeline id"),
            opt(
                "--app",
                action="append",
                default=[],
                metavar="STAGE=APP",
                help="an app of a stage (repeat for several apps and stages)",
            ),
        ),
        {"handler": _diff.diff},
    ),
    Command(
        "fake-server",
        "run a fake Sevalla API locally (for development; no account needed)",
        FAKE_SERVER_DESCRIPTION,
        (
            opt("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"),
            opt("--port", type=port, default=0, help="port to listen on (default: a free one)"),
            opt("--key", help="the API key it accepts (default: a random one)"),
            number_opt("--pipelines", count, 3, "pipelines to seed (default 3)"),
            number_opt(
                "--targets", positive_int, 2, "apps in each stage of a seeded pipeline (default 2)"
            ),
            opt(
                "--plan-file",
                metavar="PATH",
                help="also write a promote-many plan for the seeded pipelines to PATH",
            ),
            add_scenario_options,  # --fail-app, --slow, --push-after (_fake_scenario.py)
        ),
        {"handler": serve, "human_default": True, "interrupt_status": 0},
        api=False,
        progress=False,
    ),
    Command(
        "demo",
        "promote a handful of pipelines on an embedded fake API, wait for the "
        "deployments, then release in waves with a failing canary (no account, no network)",
        DEMO_DESCRIPTION,
        (
            number_opt("--pipelines", positive_int, 6, "pipelines (default 6)"),
            number_opt("--targets", positive_int, 2, "targets each (default 2)"),
            number_opt("--concurrency", positive_int, 3, "in flight (default 3)"),
            opt(
                "--delay",
                type=float,
                default=0.2,
                metavar="SECONDS",
                help="how late the fake answers each promotion, to watch the fan-out (default 0.2)",
            ),
        ),
        {"handler": demo},
        api=False,
    ),
)


def _build(parent: Any, spec: Command) -> None:
    """Add ``spec`` (and its actions) to ``parent``, a sub-parsers action, with the global
    options."""
    parser: argparse.ArgumentParser = parent.add_parser(
        spec.name,
        help=spec.help,
        description=spec.description or spec.help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global_options(parser, in_command=True, api=spec.api, progress=spec.progress)
    for step in spec.steps:
        if callable(step):
            step(parser)
        else:
            add_options(parser, (step,))
    if spec.actions:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        for action in spec.actions:
            _build(actions, action)
    if spec.defaults:
        parser.set_defaults(**spec.defaults)


def build_parser() -> argparse.ArgumentParser:
    """The ``sevalla-async`` argument parser; each command sets ``handler``."""
    parser = argparse.ArgumentParser(
        prog="sevalla-async",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    global_options(parser, in_command=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for spec in COMMANDS:
        _build(commands, spec)
    return parser


def command_says(argv: Sequence[str], default: str) -> bool:
    """Whether the command named in ``argv`` sets ``default`` (``writes``,
    ``human_default``), read before argparse, which may refuse the rest of the line."""
    return any(c.name in argv and c.defaults.get(default) for c in COMMANDS)

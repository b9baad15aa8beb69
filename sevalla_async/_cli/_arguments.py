"""The argument types of ``sevalla-async`` (whole numbers, seconds, a port: each an
``argparse`` ``type`` with a clear message) and the tables of the option groups the
commands share (global, waiting, journal and resume)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from .._build import check_build_text
from .._ids import shown
from .._reconcile import DEFAULT_RECONCILE_TIMEOUT, DEFAULT_SETTLE
from ._parser_text import EXPECT_BUILD_HELP, FAILURE_LOGS_HELP, REPIN_HELP, SKIP_CURRENT_HELP

__all__ = [
    "Option",
    "add_options",
    "build_options",
    "build_text",
    "count",
    "global_options",
    "journal_options",
    "non_negative_seconds",
    "number_opt",
    "opt",
    "port",
    "positive_int",
    "seconds",
    "wait_options",
]

Option = tuple[tuple[str, ...], Mapping[str, Any]]
"""One ``add_argument(*names, **options)`` call."""


def opt(*names: str, **options: Any) -> Option:
    return names, options


def number_opt(name: str, kind: Callable[[str], int], default: int, help_text: str) -> Option:
    """A whole-number option shown as ``N``, of type ``kind`` (:data:`positive_int` or
    :data:`count`)."""
    return opt(name, type=kind, default=default, metavar="N", help=help_text)


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


positive_int = _whole_number(1, "must be at least 1")
count = _whole_number(0, "must not be negative")


_MOST_SECONDS = 1e9


def seconds(text: str, *, zero: bool = False) -> float:
    """An argparse ``type``: seconds, more than 0 (or, with ``zero``, not negative)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {shown(text)}") from None
    if value > _MOST_SECONDS:  # inf included: a time window past the calendar overflows
        raise argparse.ArgumentTypeError(f"must be at most 1e9 (about 31 years), got {text}")
    if zero and not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    if not zero and not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def non_negative_seconds(text: str) -> float:
    return seconds(text, zero=True)


def port(text: str) -> int:
    value = count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, got {value}")
    return value


def build_text(text: str) -> str:
    """An argparse ``type``: a commit sha (7+ hex characters) or an image URL, as
    ``expect_build`` takes it (a bad one is a usage error before anything is sent)."""
    try:
        check_build_text(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("expect_build: ")) from None
    return text.strip()


# --- option groups ---------------------------------------------------------------------------

_API_OPTIONS = (
    opt("--api-key", metavar="KEY", default=None, help="the API key (default: $SEVALLA_API_KEY)"),
    opt(
        "--base-url",
        metavar="URL",
        default=None,
        help="the API root (default: $SEVALLA_BASE_URL, else https://api.sevalla.com/v3)",
    ),
    opt(
        "--timeout",
        metavar="SECONDS",
        type=seconds,
        default=30.0,
        help="time allowed for each API call, its retries included (default 30)",
    ),
)
_OUTPUT_OPTIONS = (
    opt(
        "--output",
        choices=("auto", "json", "table"),
        default=None,  # None: not given (auto, or a command's own default)
        help="json: one JSON object per line; table: aligned columns; "
        "auto (default): a table on a terminal, JSON otherwise",
    ),
)
_PROGRESS_OPTIONS = (
    opt(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a live progress line on stderr (default: when stderr is a terminal)",
    ),
    opt(
        "-v",
        "--verbose",
        action="store_true",
        default=False,
        help="log every API call (the SDK's DEBUG log, secrets redacted) to stderr",
    ),
)


def global_options(
    parser: argparse.ArgumentParser, *, in_command: bool, api: bool = True, progress: bool = True
) -> None:
    """The options every command takes. In a command their default is "not given", so a
    value given before the command is not overwritten. A command that does not call the
    API (``api=False``) neither lists nor takes ``--api-key``/``--base-url``/``--timeout``
    after its name; one without a progress line, ``--progress`` and ``-v``."""
    table = (
        (_API_OPTIONS if api else ()) + _OUTPUT_OPTIONS + (_PROGRESS_OPTIONS if progress else ())
    )
    add_options(parser.add_argument_group("global options"), table, suppress=in_command)


_WAIT_FLAG = opt(
    "--wait",
    action="store_true",
    help="wait for the deployments to finish and print each one's final status "
    "(exit 1 unless all ended in success)",
)
_WAIT_OPTIONS = (
    opt(
        "--wait-timeout",
        type=seconds,
        metavar="SECONDS",
        help="give up waiting after SECONDS (default 900); the deployments keep running",
    ),
    opt(
        "--poll-interval",
        type=seconds,
        metavar="SECONDS",
        help="shortest interval between two polls of one deployment (default 1); many "
        "waits at once poll less often, sharing half the API's read budget",
    ),
    opt(
        "--polls-per-minute",
        type=positive_int,
        metavar="N",
        help="polls this process starts a minute at most, all waits together (default: "
        "half the API's read budget, 200 of 400 a minute; lower it when several processes "
        "share the key)",
    ),
    opt("--failure-logs", type=count, metavar="N", help=FAILURE_LOGS_HELP),
)


def wait_options(*, flag: bool) -> Callable[[argparse.ArgumentParser], None]:
    """The waiting options; with ``flag`` also ``--wait`` (the others then need it). Their
    default is "not given" (``None``); ``_waiting.wait_options`` resolves them."""
    if flag:
        return _group("waiting (with --wait)", (_WAIT_FLAG, *_WAIT_OPTIONS))
    return _group("waiting", _WAIT_OPTIONS)


_RESUME_HELP = (
    "continue the run journaled in FILE (same plan): promoted and rejected entries "
    "are reported, not sent; unknown ones are reconciled from the target apps' "
    "deployment histories and only targets verified not promoted are sent; entries "
    "never sent are sent. The journal goes on in FILE"
)
_JOURNAL = opt(
    "--journal",
    metavar="FILE",
    help="append one JSON line per event (sent, result) to FILE as it happens, flushed "
    "and synced, so a run stopped any way (kill -9 included) can be resumed; off by "
    "default (see below). FILE must be new or empty: a journal records one run (to "
    "continue it: --resume FILE; else remove it); one run at a time holds it (a second "
    "is refused, exit status 2). If FILE cannot be written (a full disk), nothing more "
    "is sent: what it could not record as sent is reported not_sent (exit status 1)",
)
_RECONCILE_OPTIONS = (
    opt(
        "--reconcile-settle",
        type=non_negative_seconds,
        default=DEFAULT_SETTLE,
        metavar="SECONDS",
        help="with --resume: how long after a request was sent its absence from a target's "
        f"history proves it was not made (default {DEFAULT_SETTLE:g})",
    ),
    opt(
        "--reconcile-timeout",
        type=non_negative_seconds,
        default=DEFAULT_RECONCILE_TIMEOUT,
        metavar="SECONDS",
        help="with --resume: stop looking after this long; an entry still undecided stays "
        f"unknown and is not sent (default {DEFAULT_RECONCILE_TIMEOUT:g})",
    ),
)


def journal_options(resume_help: str = _RESUME_HELP) -> Callable[[argparse.ArgumentParser], None]:
    """``--journal``, ``--resume`` and the reconciling options of a resume."""
    resume = opt("--resume", metavar="FILE", help=resume_help)
    return _group("journal and resume", (_JOURNAL, resume, *_RECONCILE_OPTIONS))


def build_options(
    *, skip_current: bool, repin: bool = False
) -> Callable[[argparse.ArgumentParser], None]:
    """``--expect-build`` and ``--skip-current/--no-skip-current`` (default
    ``skip_current``, as the library's call the command runs); ``release`` adds
    ``--repin``."""
    default = "on" if skip_current else "off"
    table = (
        opt("--expect-build", metavar="SHA", type=build_text, default=None, help=EXPECT_BUILD_HELP),
        opt(
            "--skip-current",
            action=argparse.BooleanOptionalAction,
            default=skip_current,
            help=f"{SKIP_CURRENT_HELP} (default: {default})",
        ),
    ) + ((opt("--repin", action="store_true", help=REPIN_HELP),) if repin else ())
    return _group("the build you verified", table)


def _group(title: str, table: tuple[Option, ...]) -> Callable[[argparse.ArgumentParser], None]:
    """A step of a command that adds the options of ``table`` under the heading ``title``."""
    return lambda parser: add_options(parser.add_argument_group(title), table)


def add_options(target: Any, table: tuple[Option, ...], *, suppress: bool = False) -> None:
    """Add every option of ``table`` to ``target`` (a parser or a group); with
    ``suppress``, each default is "not given"."""
    for names, options in table:
        if suppress:
            options = {**options, "default": argparse.SUPPRESS}
        target.add_argument(*names, **options)

"""What every command shares: the output streams and format, usage errors, the client."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Literal, TextIO, TypeVar

import attrs

from .. import SevallaClient
from ._output import clean_text, error_json, json_line
from ._progress import ProgressLine

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Console",
    "UsageError",
    "flag_names",
    "is_terminal",
    "make_client",
    "take",
]

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1  # the API refused or failed (or a promotion of a plan did)
EXIT_USAGE = 2  # bad arguments or input: nothing was sent


class UsageError(Exception):
    """Bad arguments or input, found before anything was sent (exit status 2)."""


_FLAGS = (
    ("pipeline_id", "PIPELINE"),
    ("source_app_id", "--source"),
    ("target_app_ids", "--target"),
    ("app_id", "APP"),
    ("deployment_id", "DEPLOYMENT"),
)


def flag_names(message: str) -> str:
    """Put the CLI's name for a field in front of the SDK's error about it:
    ``--target: target_app_ids[1]: 'x' is not a valid UUID ...``."""
    for field, flag in _FLAGS:
        if message.startswith(field):
            return f"{flag}: {message}"
    return message


@attrs.define
class Console:
    """The streams a command writes to, and how."""

    out: TextIO
    err: TextIO
    output: Literal["json", "table"]
    progress: bool

    @property
    def json(self) -> bool:
        return self.output == "json"

    def line(self, text: str) -> None:
        """One line of results on stdout, flushed (scripts read it as it comes)."""
        self.out.write(text + "\n")
        self.out.flush()

    def emit(self, data: Mapping[str, object], text: str) -> None:
        """One result on stdout: ``data`` as a JSON line with ``--output json``, else
        ``text``."""
        self.line(json_line(data) if self.json else text)

    def note(self, text: str) -> None:
        """A message for the person at the terminal, on stderr (``main`` makes every stream
        redact the key: an error may quote what was typed, the key in the wrong place)."""
        self.err.write(f"sevalla-async: {text}\n")
        self.err.flush()

    def error_line(self, error: Mapping[str, object]) -> None:
        """With ``--output json``, ``{"error": {...}}`` on stdout (an ``error_json``): the
        failure as data for the script reading stdout; a closed stdout is not an error."""
        self.json_report({"error": error})

    def json_report(self, data: Mapping[str, object]) -> None:
        """With ``--output json``, ``data`` as a JSON line on stdout: a report after the
        results (of a failure, an interruption); a closed stdout is not an error."""
        if self.json:
            with contextlib.suppress(BrokenPipeError):
                self.line(json_line(data))

    def plan_invalid(self, problems: Sequence[str], *, as_data: bool = True) -> None:
        """A plan that cannot be used: every problem on stderr (and, with ``as_data`` and
        ``--output json``, one ``PlanError`` on stdout); nothing was sent."""
        for problem in problems:
            self.note(problem)
        self.note("the plan is invalid: nothing was sent")
        if as_data:
            message = clean_text(f"the plan is invalid: {'; '.join(problems)}")
            self.error_line(error_json(type="PlanError", message=message, state="not_sent"))

    def progress_line(self, total: int) -> ProgressLine:
        """The live progress line of ``total`` items on stderr (drawn when ``progress``)."""
        return ProgressLine(
            self.err, total, enabled=self.progress, shares_terminal=is_terminal(self.out)
        )


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (``False`` for anything that cannot say)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def resolve_console(args: argparse.Namespace, out: TextIO, err: TextIO) -> Console:
    """``--output auto`` (the default) is a table on a terminal and JSON lines otherwise;
    a command whose default is a table (``human_default``) follows ``auto`` only when it is
    given. ``--progress`` defaults to "stderr is a terminal"."""
    output = args.output  # None: not given
    if output is None:
        output = "table" if getattr(args, "human_default", False) else "auto"
    if output == "auto":
        output = "table" if is_terminal(out) else "json"
    progress = args.progress if args.progress is not None else is_terminal(err)
    return Console(out=out, err=err, output=output, progress=progress)


def make_client(args: argparse.Namespace) -> SevallaClient:
    """A client from the global options (the key: ``--api-key``, else ``SEVALLA_API_KEY``);
    bad options are a :class:`UsageError`."""
    key = os.environ.get("SEVALLA_API_KEY") if args.api_key is None else args.api_key
    if not key or not key.strip():
        raise UsageError("no API key: pass --api-key KEY or set SEVALLA_API_KEY")
    try:
        return SevallaClient(key, base_url=args.base_url, timeout=args.timeout)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


async def take(items: AsyncIterator[T], limit: int | None) -> AsyncIterator[T]:
    """The first ``limit`` items (all with ``None``); the source is closed when we stop."""
    count = 0
    try:
        if limit == 0:
            return
        async for item in items:
            yield item
            count += 1
            if limit is not None and count >= limit:
                return
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()

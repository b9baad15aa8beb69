"""The ``sevalla-async`` command line (argparse over the public API).

``main(argv)`` parses, sets up logging, runs the command in an event loop and turns what
happened into the exit status: 0 success, 1 the API refused or failed, 2 bad input
(nothing sent), 130 interrupted. Ctrl-C (and SIGTERM) cancel the running command, which
reports what it had already sent; no traceback is ever shown for an API error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

from .. import APIConnectionError, InternalServerError, SevallaError
from ._console import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Console,
    UsageError,
    is_terminal,
    resolve_console,
)
from ._hints import error_hint
from ._logging import configure_logging, remove_handler
from ._output import clean_text, error_json, json_line, short_error
from ._parser import build_parser, command_says
from ._redact import RedactingStream, parse_redacted, secrets_of

__all__ = ["main"]

Handler = Callable[[argparse.Namespace, Console], Awaitable[int]]

_STOP_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s
)


async def _run(handler: Handler, args: argparse.Namespace, console: Console) -> int:
    """Run the command; a stop signal cancels it and gives ``128 + signal`` (or the
    command's own ``interrupt_status``)."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            task.cancel()

    installed = []
    for signum in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop, signum)
            installed.append(signum)
    try:
        return await handler(args, console)
    except asyncio.CancelledError:
        if not received:
            raise
        status: int = getattr(args, "interrupt_status", 128 + received[0])
        if status:
            console.note("interrupted")
        return status
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _api_error(console: Console, error: SevallaError) -> int:
    """One line on stderr (and, with ``--output json``, ``{"error": {...}}`` on stdout)."""
    console.note(f"error: {short_error(error)}")
    hint = error_hint(error)
    if hint:
        console.note(hint)
    console.error_line(error_json(error))
    method = getattr(error, "method", None)
    maybe_sent = isinstance(error, InternalServerError) or (
        isinstance(error, APIConnectionError) and error.request_sent
    )
    if method == "POST" and maybe_sent:
        console.note("the request may have been acted on; check before retrying")
    return EXIT_FAILED


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run ``sevalla-async`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    Usage errors found by argparse exit with status 2 through ``SystemExit`` (with
    ``--output json``, or ``auto`` off a terminal, their ``{"error": ...}`` line on
    stdout). The API key (``--api-key`` or ``SEVALLA_API_KEY``) is redacted from
    everything printed, argparse's messages included. A closed stdout (``| head -1``)
    ends quietly with status 0.
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    secrets = secrets_of(arguments)
    out: TextIO = RedactingStream(stdout or sys.stdout, secrets)  # type: ignore[assignment]
    err: TextIO = RedactingStream(stderr or sys.stderr, secrets)  # type: ignore[assignment]
    args = parse_redacted(
        build_parser, arguments, out, err, functools.partial(_usage_error, arguments, out)
    )
    console = resolve_console(args, out, err)
    handler = configure_logging(err, verbose=args.verbose, secrets=secrets)
    try:
        return asyncio.run(_run(args.handler, args, console))
    except UsageError as exc:
        console.note(f"error: {exc}")
        state = "not_sent" if getattr(args, "writes", False) else None
        console.error_line(error_json(type="UsageError", message=clean_text(exc), state=state))
        return EXIT_USAGE
    except SevallaError as exc:
        return _api_error(console, exc)
    except KeyboardInterrupt:  # a signal before the loop's own handler was installed
        console.note("interrupted")
        return 130
    except BrokenPipeError:  # stdout closed early (e.g. piped into head): not a failure
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return EXIT_OK
    finally:
        remove_handler(handler)


def _usage_error(argv: Sequence[str], out: TextIO, message: str) -> None:
    """With JSON output, the one error shape of a command line argparse refused, on
    ``out`` (which redacts: ``message`` may quote a misplaced key)."""
    if _json_output(argv, out):
        state = "not_sent" if command_says(argv, "writes") else None
        error = error_json(type="UsageError", message=clean_text(message), state=state)
        with contextlib.suppress(BrokenPipeError):
            out.write(json_line({"error": error}) + "\n")


def _json_output(argv: Sequence[str], out: TextIO) -> bool:
    """Whether ``argv`` asks for JSON output, read before argparse (which refused it):
    the last ``--output`` (or an abbreviation of it), else ``auto``."""
    output = "auto"
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if len(name) >= len("--ou") and "--output".startswith(name):
            output = value if eq else (argv[i + 1] if i + 1 < len(argv) else "")
    if output == "auto":
        return not command_says(argv, "human_default") and not is_terminal(out)
    return output == "json"

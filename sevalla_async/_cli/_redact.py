"""Keep the API key out of everything the CLI prints.

A key pasted in the wrong place (``sevalla-async $KEY``, ``--timeout $KEY``) would be
quoted back by argparse or by an error message; every stream the CLI writes to goes
through :class:`RedactingStream`, which replaces the key (from ``--api-key`` or
``SEVALLA_API_KEY``) with ``***``. Argparse's own messages are caught and redacted too.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ._logging import redact, redactable

__all__ = ["RedactingStream", "parse_redacted", "secrets_of"]

_API_KEY_FLAG = "--api-key"


def secrets_of(argv: Sequence[str]) -> tuple[str, ...]:
    """The keys to redact, found before argparse runs (argparse errors quote the command
    line): the value of ``--api-key`` (also ``--api-key=KEY`` and abbreviations such as
    ``--api``) and ``SEVALLA_API_KEY``."""
    found: list[str | None] = [os.environ.get("SEVALLA_API_KEY")]
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if len(name) < len("--a") or not _API_KEY_FLAG.startswith(name):
            continue
        if eq:
            found.append(value)
        elif i + 1 < len(argv):
            found.append(argv[i + 1])
    return redactable(found)


class RedactingStream:
    """A text stream that redacts ``secrets`` from every write to ``stream``; everything
    else (``isatty``, ``fileno``, ``flush``...) is the wrapped stream's."""

    def __init__(self, stream: TextIO, secrets: Sequence[str]) -> None:
        self._stream = stream
        self._secrets = tuple(secrets)

    def write(self, text: str) -> int:
        return self._stream.write(redact(text, self._secrets))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def parse_redacted(
    build: Callable[[], argparse.ArgumentParser],
    argv: Sequence[str] | None,
    out: TextIO,
    err: TextIO,
    on_usage_error: Callable[[str], None] | None = None,
) -> argparse.Namespace:
    """``build().parse_args(argv)`` with argparse's output (help, usage errors) sent to
    ``out``/``err``, which redact. Usage errors exit with ``SystemExit(2)``, after
    ``on_usage_error`` is given argparse's message (write it only to a redacting stream:
    it may quote a misplaced key)."""
    captured_out, captured_err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(captured_out), contextlib.redirect_stderr(captured_err):
            return build().parse_args(argv)
    except SystemExit as exc:
        code = exc.code
    finally:
        for text, stream in ((captured_out.getvalue(), out), (captured_err.getvalue(), err)):
            if text:
                stream.write(text)
                stream.flush()
    # A fresh SystemExit raised outside the except block: argparse's ArgumentError, whose
    # text quotes the offending argument (perhaps a misplaced key), is not its __context__.
    if code == 2 and on_usage_error is not None:
        said = captured_err.getvalue().rstrip().rpartition("\n")[2]
        on_usage_error(said.partition(" error: ")[2] or said)
    raise SystemExit(code)

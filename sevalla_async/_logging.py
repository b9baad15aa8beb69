"""The logging switch: ``SEVALLA_LOG=debug|info|warning`` (and the CLI's ``-v``).

The SDK logs on the ``sevalla_async`` logger (each attempt at DEBUG, each retry at WARNING)
and never logs headers, bodies or the key. Nothing is printed until the application
configures logging, or until ``SEVALLA_LOG`` is set in the environment: then, when the
package is imported, one handler writing to stderr is attached to the ``sevalla_async``
logger at that level. Its formatter redacts the key (``SEVALLA_API_KEY``, and any key the
CLI was given) from the whole formatted record anyway, so no future log line can leak it.

An unknown value (``SEVALLA_LOG=verbose``) switches nothing on and emits a
:class:`RuntimeWarning` naming the accepted values: a typo in an environment variable must
not break the program that imports the SDK. The value is case-insensitive; empty means off.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from typing import TextIO

__all__ = [
    "ENV_VAR",
    "LEVELS",
    "REDACTED",
    "RedactingFormatter",
    "install_handler",
    "level_from_env",
    "redactable",
    "setup_from_env",
]

ENV_VAR = "SEVALLA_LOG"
LEVELS: Mapping[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
}
REDACTED = "***"
LOGGER = "sevalla_async"
_MIN_SECRET = 4  # shorter strings would redact ordinary words; no real key is that short
_FORMAT = "sevalla-async: %(levelname)s: %(message)s"

_installed: logging.Handler | None = None


def redactable(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """The secrets worth redacting, longest first (so no part of one is left behind)."""
    return tuple(sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (``secrets`` from :func:`redactable`)."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces every secret in the final text with ``***``."""

    def __init__(self, fmt: str, secrets: Iterable[str | None]) -> None:
        super().__init__(fmt)
        self._secrets = redactable(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def level_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """The level ``SEVALLA_LOG`` asks for; ``None`` when unset, empty or unknown (unknown
    values also emit a :class:`RuntimeWarning` naming the accepted ones)."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "").strip()
    if not value:
        return None
    level = LEVELS.get(value.lower())
    if level is None:
        accepted = ", ".join(LEVELS)
        warnings.warn(
            f"{ENV_VAR}={value!r} is not a log level (accepted: {accepted}); "
            "sevalla_async logging stays off",
            RuntimeWarning,
            stacklevel=2,
        )
    return level


def install_handler(
    stream: TextIO, level: int, secrets: Iterable[str | None] = ()
) -> logging.Handler:
    """Send the ``sevalla_async`` logger to ``stream`` at ``level``, redacting ``secrets``
    (and ``SEVALLA_API_KEY``). Replaces the handler a previous call installed, so the CLI
    and ``SEVALLA_LOG`` never print a line twice; returns the handler."""
    global _installed
    logger = logging.getLogger(LOGGER)
    if _installed is not None:
        logger.removeHandler(_installed)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter(_FORMAT, [*secrets, os.environ.get("SEVALLA_API_KEY")]))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    _installed = handler
    return handler


def remove_handler(handler: logging.Handler) -> None:
    """Undo :func:`install_handler` (the logger goes back to propagating, level unset)."""
    global _installed
    logger = logging.getLogger(LOGGER)
    logger.removeHandler(handler)
    if _installed is handler:
        _installed = None
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def setup_from_env(environ: Mapping[str, str] | None = None) -> logging.Handler | None:
    """Apply ``SEVALLA_LOG`` (called once, when the package is imported). Without it the
    library stays silent until the application configures logging: a ``NullHandler``
    keeps Python's last-resort handler from printing the retry warnings to stderr."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    level = level_from_env(environ)
    if level is None:
        return None
    return install_handler(sys.stderr, level)

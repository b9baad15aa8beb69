"""The CLI's logging: the SDK's ``sevalla_async`` logger to stderr, with secrets redacted.

The SDK never logs headers or the key; the handler redacts the key anyway, from the whole
formatted record (message, arguments and any exception text), so no future log line can
leak it through the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TextIO

__all__ = ["REDACTED", "RedactingFormatter", "configure_logging", "redactable"]

REDACTED = "***"
_MIN_SECRET = 4  # shorter strings would redact ordinary words; no real key is that short


def redactable(secrets: Iterable[str | None]) -> tuple[str, ...]:
    """The secrets worth redacting, longest first (so no part of one is left behind)."""
    return tuple(sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True))


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces every secret in the final text with ``***``."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = redactable(secrets)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure_logging(stream: TextIO, *, verbose: bool, secrets: Iterable[str]) -> logging.Handler:
    """Send the ``sevalla_async`` logger to ``stream``: DEBUG with ``verbose``, else
    WARNING (retries are worth seeing). The handler is returned so it can be removed."""
    logger = logging.getLogger("sevalla_async")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("sevalla-async: %(levelname)s: %(message)s", secrets))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False
    return handler

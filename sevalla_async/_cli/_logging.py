"""The CLI's logging: the SDK's ``sevalla_async`` logger to stderr, with secrets redacted.

The handler is the one ``SEVALLA_LOG`` uses (:mod:`sevalla_async._logging`), so the two
never print a line twice: ``-v`` is DEBUG, else ``SEVALLA_LOG``'s level, else WARNING
(retries are worth seeing).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TextIO

from .._logging import (
    REDACTED,
    RedactingFormatter,
    install_handler,
    level_from_env,
    redact,
    redactable,
    remove_handler,
)

__all__ = [
    "REDACTED",
    "RedactingFormatter",
    "configure_logging",
    "redact",
    "redactable",
    "remove_handler",
]


def configure_logging(stream: TextIO, *, verbose: bool, secrets: Iterable[str]) -> logging.Handler:
    """Send the ``sevalla_async`` logger to ``stream``: DEBUG with ``verbose``, else the
    level of ``SEVALLA_LOG``, else WARNING. The handler is returned so it can be removed."""
    level = logging.DEBUG if verbose else (level_from_env() or logging.WARNING)
    return install_handler(stream, level, secrets)

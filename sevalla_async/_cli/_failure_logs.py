"""Why a deployment failed, in the CLI (``--failure-logs N``): the last ERROR lines of each
deployment that ended ``failed``, read once it has (:mod:`sevalla_async._failure_logs`),
shown indented under its row on a terminal and as a ``logs`` list in its JSON object.

Log text is the server's: it comes escaped and capped from :class:`LogEntry`, and is
cleaned again here like any server text (:func:`clean_text`); the key never reaches the
output (it is redacted where a reply enters the SDK, and from everything printed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .. import Deployment, LogEntry, SevallaClient
from .._failure_logs import ended_failed, failure_logs, read_failure_logs
from ._output import clean_text
from ._waiting import Waited

__all__ = [
    "INDENT",
    "MAX_JSON_MESSAGE",
    "attach_logs",
    "deployment_logs",
    "log_lines",
    "logs_json",
]

INDENT = "    "
"""Before each log line printed under its row."""

MAX_JSON_MESSAGE = 4200
"""Characters of a message kept in JSON (a :class:`LogEntry` message is at most 4,096 and
the mark of its cut)."""

_NONE = "(no ERROR lines in its log)"


async def attach_logs(client: SevallaClient, waited: Sequence[Waited], limit: int) -> list[Waited]:
    """``waited`` with ``logs`` set on each deployment seen to end ``failed`` (its last
    ``limit`` ERROR lines; left unset when its read failed: the SDK logs a warning).
    Nothing is read with ``limit`` 0 or when none failed."""
    ended = [w.deployment for w in waited if w.deployment is not None and w.error is None]
    if limit == 0 or not any(ended_failed(d) for d in ended):
        return list(waited)
    found = await failure_logs(client.deployments.logs, ended, limit)
    return [
        attrs.evolve(w, logs=tuple(found[w.deployment_id])) if w.deployment_id in found else w
        for w in waited
    ]


async def deployment_logs(
    client: SevallaClient, deployment: Deployment, limit: int
) -> tuple[LogEntry, ...] | None:
    """The last ``limit`` ERROR lines of ``deployment`` if it ended ``failed`` (``None``
    when it did not, ``limit`` is 0, or the read failed)."""
    if limit == 0 or not ended_failed(deployment):
        return None
    entries = await read_failure_logs(client.deployments.logs, deployment, limit)
    return None if entries is None else tuple(entries)


def log_lines(entries: Iterable[LogEntry] | None) -> list[str]:
    """The lines printed under a failed deployment's row: ``    TIME  MESSAGE`` each (a
    message cut at 500 characters), or that its log has no ERROR line; none when the
    log was not read (``None``)."""
    if entries is None:
        return []
    lines = [
        f"{INDENT}{entry.timestamp:%Y-%m-%d %H:%M:%S}  {clean_text(entry.message)}"
        for entry in entries
    ]
    return lines or [f"{INDENT}{_NONE}"]


def logs_json(entries: Iterable[LogEntry]) -> list[dict[str, Any]]:
    """The ``logs`` field: ``{timestamp, severity, message}`` per line, oldest first."""
    return [
        {
            "timestamp": entry.timestamp.isoformat().replace("+00:00", "Z"),
            "severity": clean_text(entry.severity, 64),
            "message": clean_text(entry.message, MAX_JSON_MESSAGE),
        }
        for entry in entries
    ]

"""Why a deployment failed: the last ERROR lines of its log, read once it has ended
``failed`` (for :attr:`WaveReport.failure_logs` and the CLI).

A read that fails (an API error, a reply of the wrong shape, a timeout) is logged at
WARNING and its deployment left out: the logs explain a failure, they must never become
one. Nothing is read for a deployment that did not fail, nor with a limit of 0.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta

from ._errors import SevallaError
from ._logs import MAX_LIMIT
from ._logsafe import printable
from ._models import Deployment, DeploymentStatus, LogEntry

__all__ = [
    "DEFAULT_FAILURE_LOGS",
    "EARLIER",
    "FailureLogs",
    "ReadLogs",
    "check_failure_logs",
    "ended_failed",
    "failure_logs",
    "read_failure_logs",
]

logger = logging.getLogger("sevalla_async")

DEFAULT_FAILURE_LOGS = 20
"""ERROR lines kept per failed deployment by default."""

EARLIER = timedelta(minutes=1)
"""How long before a deployment's ``created_at`` its log is read from (clock skew)."""

_AT_ONCE = 8
"""Log reads in flight at once for one wave."""

ReadLogs = Callable[..., Awaitable[list[LogEntry]]]
"""``client.deployments.logs``: ``(app_id, deployment_id, *, severity, limit, since)``."""


def check_failure_logs(value: object, name: str = "failure_logs") -> int:
    """``value`` as the number of ERROR lines to keep (0 = none read), or ``ValueError``
    naming ``name``."""
    if type(value) is not int or not 0 <= value <= MAX_LIMIT:
        raise ValueError(f"{name}: must be an integer from 0 to {MAX_LIMIT}, got {value!r}")
    return value


def ended_failed(deployment: Deployment) -> bool:
    """The deployment ended ``failed`` (not cancelled, skipped, or unfinished)."""
    return deployment.status is DeploymentStatus.FAILED


async def read_failure_logs(
    read: ReadLogs, deployment: Deployment, limit: int
) -> list[LogEntry] | None:
    """The last ``limit`` ERROR lines of ``deployment`` (oldest first), from a minute
    before its creation; ``None`` (logged at WARNING) when the read failed."""
    app = deployment.app_id
    if app is None:
        return None
    since: datetime | None = deployment.created_at - EARLIER
    if since is not None and since.tzinfo is None:
        since = None  # a naive time cannot be sent: the API's default range then
    try:
        return await read(app, deployment.id, severity="ERROR", limit=limit, since=since)
    except (SevallaError, ValueError) as exc:
        logger.warning(
            "could not read the error log of deployment %s of app %s (%s: %s); "
            "it is left out of the failure logs",
            deployment.id,
            app,
            type(exc).__name__,
            printable(str(exc))[:300],
        )
        return None


async def failure_logs(
    read: ReadLogs, deployments: Iterable[Deployment], limit: int
) -> dict[uuid.UUID, list[LogEntry]]:
    """Deployment id -> its last ``limit`` ERROR lines, for each deployment that ended
    ``failed`` (a few read at a time); one whose read failed is left out. Nothing is read
    when ``limit`` is 0 or none failed."""
    if limit == 0:
        return {}
    failed = [d for d in deployments if ended_failed(d) and d.app_id is not None]
    gate = asyncio.Semaphore(_AT_ONCE)

    async def one(deployment: Deployment) -> list[LogEntry] | None:
        async with gate:
            return await read_failure_logs(read, deployment, limit)

    found = await asyncio.gather(*(one(d) for d in failed))
    return {d.id: entries for d, entries in zip(failed, found, strict=True) if entries is not None}


class FailureLogs:
    """:func:`failure_logs` with its reader and limit bound (one per release): a call
    with a wave's final deployments gives the wave's :attr:`WaveReport.failure_logs`
    (keyed by app id)."""

    def __init__(self, read: ReadLogs, limit: int) -> None:
        self._read = read
        self._limit = limit

    async def __call__(self, deployments: Iterable[Deployment]) -> dict[uuid.UUID, list[LogEntry]]:
        ended = list(deployments)
        found = await failure_logs(self._read, ended, self._limit)
        return {d.app_id: found[d.id] for d in ended if d.id in found and d.app_id is not None}

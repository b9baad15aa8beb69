"""Waiting for deployments from the CLI: the waiting options, what each waited deployment
came to, and the status changes seen while polling.

``wait``, ``promote --wait`` and ``promote-many --wait`` share these parts; the polling
itself is the SDK's (``client.deployments.wait`` and ``client.pipelines.promote_and_wait``).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .. import (
    Deployment,
    LogEntry,
    Promotion,
    SevallaClient,
    SevallaError,
    WaitAllError,
    WaitOptions,
)
from .._failure_logs import DEFAULT_FAILURE_LOGS, check_failure_logs
from .._wait import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT
from ._console import UsageError

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "StatusWatch",
    "WaitFlags",
    "Waited",
    "last_seen",
    "mark_current",
    "seen_json",
    "status_name",
    "wait_options",
    "waited_from_deployments",
    "waited_from_error",
]

DEFAULT_WAIT_TIMEOUT = DEFAULT_TIMEOUT

# (flag, attribute) of the options that only mean something when waiting
_WAIT_FLAGS = (
    ("--wait-timeout", "wait_timeout"),
    ("--poll-interval", "poll_interval"),
    ("--polls-per-minute", "polls_per_minute"),
    ("--failure-logs", "failure_logs"),
)


@attrs.frozen
class WaitFlags:
    """How long to wait and how often to poll, from a command's flags.

    ``timeout`` bounds one wait (for ``promote-many``: one entry, its promotion included);
    polls of one deployment come at least ``poll_interval`` apart, further apart when many
    waits share the SDK's poll budget; ``polls_per_minute`` (``None``: the SDK's share of
    the read budget only) caps all polls of the process; the rest of the polling is the
    SDK's :class:`~sevalla_async.WaitOptions` (``options``). ``failure_logs``: the ERROR
    lines shown of each deployment that ended ``failed`` (0: none read).
    """

    timeout: float = DEFAULT_WAIT_TIMEOUT
    poll_interval: float = DEFAULT_POLL_INTERVAL
    polls_per_minute: int | None = None
    failure_logs: int = DEFAULT_FAILURE_LOGS
    options: WaitOptions = attrs.field(factory=WaitOptions)

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the SDK's wait methods."""
        return {
            "timeout": self.timeout,
            "poll_interval": self.poll_interval,
            "options": self.options,
        }

    def apply(self, client: SevallaClient) -> None:
        """Set the client's poll pacing."""
        client.deployments.max_polls_per_minute = self.polls_per_minute


def wait_options(args: argparse.Namespace) -> WaitFlags | None:
    """The waiting options of a command: ``None`` when it does not wait (``promote``
    without ``--wait``), where a waiting option is then a :class:`UsageError`."""
    waits = getattr(args, "wait", True)
    if not waits:
        for flag, name in _WAIT_FLAGS:
            if getattr(args, name, None) is not None:
                raise UsageError(f"{flag} applies only with --wait")
        return None

    def given(name: str, default: Any) -> Any:
        value = getattr(args, name, None)
        return default if value is None else value

    failure_logs = given("failure_logs", DEFAULT_FAILURE_LOGS)
    try:
        check_failure_logs(failure_logs, "--failure-logs")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return WaitFlags(
        timeout=given("wait_timeout", DEFAULT_WAIT_TIMEOUT),
        poll_interval=given("poll_interval", DEFAULT_POLL_INTERVAL),
        polls_per_minute=getattr(args, "polls_per_minute", None),
        failure_logs=failure_logs,
    )


def status_name(deployment: Deployment | None) -> str:
    """The deployment's status as the API spells it (``null`` when it has none)."""
    if deployment is None or deployment.status is None:
        return "null"
    return deployment.status.value


def seen_json(deployment: Deployment) -> dict[str, str]:
    """A deployment as last seen: its ``app_id``, ``deployment_id`` and ``status``."""
    return {
        "app_id": str(deployment.app_id),
        "deployment_id": str(deployment.id),
        "status": status_name(deployment),
    }


def last_seen(error: BaseException) -> Deployment | None:
    """The last deployment a timed-out wait saw (``None`` if none, or another error)."""
    last = getattr(error, "last_result", None)
    return last if isinstance(last, Deployment) else None


@attrs.frozen
class Waited:
    """One deployment after the wait: its final state, or, with ``error``, why it was not
    seen to the end (``deployment`` is then the last one seen, if any); ``logs``: the
    last ERROR lines of a deployment that ended ``failed`` (``None``: not read)."""

    app_id: uuid.UUID | None
    deployment_id: uuid.UUID
    deployment: Deployment | None
    error: SevallaError | None = None
    logs: tuple[LogEntry, ...] | None = None
    current: bool = False
    """The target already ran the source's build (``--skip-current``): not deployed."""

    @property
    def status(self) -> str | None:
        """The final (or last seen) status; ``None`` when there is none."""
        if self.deployment is None or self.deployment.status is None:
            return None
        return self.deployment.status.value

    @property
    def succeeded(self) -> bool:
        """True only when the deployment was seen to end with ``success``."""
        return self.error is None and self.deployment is not None and self.deployment.succeeded


def waited_from_deployments(
    deployments: Sequence[Deployment], target_app_ids: Sequence[uuid.UUID] = ()
) -> list[Waited]:
    """The final deployments of a wait (in target order; a deployment without an ``app_id``
    takes the target at its position)."""
    out = []
    for i, d in enumerate(deployments):
        app = d.app_id
        if app is None and i < len(target_app_ids):
            app = target_app_ids[i]
        out.append(Waited(app, d.id, d))
    return out


def mark_current(waited: list[Waited], promotions: Sequence[Promotion] | None) -> list[Waited]:
    """``waited`` with the deployments of ``already_current`` promotions marked
    ``current`` (``waited`` itself when there is none: nothing costs when unused)."""
    current = {p.deployment_id for p in promotions or () if p.already_current}
    if not current:
        return waited
    return [attrs.evolve(w, current=True) if w.deployment_id in current else w for w in waited]


def waited_from_error(error: WaitAllError) -> list[Waited]:
    """Every result of a :class:`WaitAllError`, finished or not, in input order."""
    return [
        Waited(p.target_app_id, p.deployment_id, result)
        if isinstance(result, Deployment)
        else Waited(p.target_app_id, p.deployment_id, last_seen(result), result)
        for p, result in zip(error.promotions, error.results, strict=True)
    ]


OnChange = Callable[[Deployment, float], object]


class StatusWatch:
    """The ``on_poll`` hook of a wait: remembers the last deployment seen of each id and
    the statuses each went through, and calls ``on_change(deployment, elapsed)`` when a
    status differs from the one seen before (and for the first poll of each)."""

    def __init__(
        self, on_change: OnChange | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._on_change = on_change
        self._clock = clock
        self._start = clock()
        self._last: dict[uuid.UUID, Deployment] = {}
        self._trails: dict[uuid.UUID, list[str]] = {}
        self.polls = 0

    def __call__(self, deployment: Deployment) -> None:
        self.polls += 1
        self._last[deployment.id] = deployment
        trail = self._trails.setdefault(deployment.id, [])
        status = status_name(deployment)
        if trail and trail[-1] == status:
            return
        trail.append(status)
        if self._on_change is not None:
            self._on_change(deployment, self._clock() - self._start)

    def last(self, deployment_id: uuid.UUID) -> Deployment | None:
        """The last deployment seen with this id."""
        return self._last.get(deployment_id)

    def seen(self) -> list[Deployment]:
        """The last state of every deployment seen, in the order they were first seen."""
        return list(self._last.values())

    def trail(self, deployment_id: uuid.UUID) -> list[str]:
        """The statuses this deployment was seen in, in order, without repeats."""
        return list(self._trails.get(deployment_id, ()))

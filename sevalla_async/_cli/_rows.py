"""The rows and JSON lines of plan outcomes and waited deployments (``promote-many``,
``promote --wait``, ``wait``): apart from :mod:`._output`, which the outcome types' own
modules use, so that no import goes round in a circle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import APITimeoutError, PromoteRequest
from ._failure_logs import logs_json
from ._output import (
    clean_text,
    error_json,
    plural,
    promote_request_json,
    promotion_entry_json,
    short_error,
)
from ._plan_runner import PlanOutcome
from ._waiting import Waited

__all__ = [
    "OUTCOME_COLUMNS",
    "WAITED_OUTCOME_COLUMNS",
    "describe_waited",
    "outcome_json",
    "outcome_rows",
    "tally",
    "waited_json",
    "waited_promotion_json",
]


def outcome_json(outcome: PlanOutcome, *, waits: bool = False) -> dict[str, Any]:
    """One entry of ``promote-many``: its index in the plan, the request and its result;
    with ``waits`` (``--wait``) also ``deployments``: each one's ``app_id``,
    ``deployment_id``, final ``status`` and ``error`` (``null`` when the promotion failed)."""
    request = outcome.request
    data: dict[str, Any] = {"index": outcome.index}
    if isinstance(request, PromoteRequest):
        data.update(promote_request_json(request))
    data["ok"] = outcome.ok
    data["promotions"] = (
        None
        if outcome.promotions is None
        else [promotion_entry_json(p) for p in outcome.promotions]
    )
    if waits:
        data["deployments"] = (
            None if outcome.waited is None else [waited_json(w) for w in outcome.waited]
        )
    state = None if outcome.state is None else outcome.state.value
    data["error"] = None
    if outcome.error is not None or outcome.recorded_error is not None:
        data["error"] = error_json(outcome.error, **(outcome.recorded_error or {}))
        if data["error"]["state"] is None:
            data["error"]["state"] = state
    if state is not None:
        data["state"] = state
    if outcome.recorded:
        data["from_journal"] = True
    return data


OUTCOME_COLUMNS = ("ENTRY", "RESULT", "PIPELINE", "TARGET APP", "DEPLOYMENT / ERROR")
WAITED_OUTCOME_COLUMNS = (
    "ENTRY",
    "RESULT",
    "PIPELINE",
    "TARGET APP",
    "DEPLOYMENT",
    "STATUS / ERROR",
)


def outcome_rows(outcome: PlanOutcome, *, waits: bool = False) -> list[tuple[str, ...]]:
    """Table rows of one outcome: one per target, or one with the error. With ``waits``
    (``--wait``, :data:`WAITED_OUTCOME_COLUMNS`) each row ends with the deployment's final
    status (or the error, after an empty DEPLOYMENT cell)."""
    request = outcome.request
    pipeline = str(request.pipeline_id) if isinstance(request, PromoteRequest) else "-"
    if outcome.waited is not None:
        return [
            (
                str(outcome.index),
                "ok" if w.succeeded else "failed",
                pipeline,
                "-" if w.app_id is None else str(w.app_id),
                str(w.deployment_id),
                describe_waited(w),
            )
            for w in outcome.waited
        ]
    if outcome.ok and outcome.promotions is not None:
        return [
            (
                str(outcome.index),
                "current" if p.already_current else "ok",
                pipeline,
                str(p.target_app_id),
                str(p.deployment_id),
            )
            for p in outcome.promotions
        ]
    if outcome.error is not None:
        error = short_error(outcome.error)
    elif outcome.recorded_error is not None:
        recorded = outcome.recorded_error
        error = clean_text(f"{recorded.get('type')}: {recorded.get('message')}")
    else:
        error = "no result"
    if outcome.recorded:
        error += " (from the journal)"
    if waits:
        return [(str(outcome.index), "failed", pipeline, "-", "-", error)]
    return [(str(outcome.index), "failed", pipeline, "-", error)]


def waited_json(waited: Waited) -> dict[str, Any]:
    """One waited deployment: ``app_id``, ``deployment_id``, ``status`` (final, or last
    seen) and ``error`` (why it was not seen to the end, else ``null``); ``logs`` (its
    last ERROR lines) when it ended ``failed`` and its log was read."""
    data: dict[str, Any] = {
        "app_id": None if waited.app_id is None else str(waited.app_id),
        "deployment_id": str(waited.deployment_id),
        "status": waited.status,
        "error": None if waited.error is None else error_json(waited.error),
    }
    return _with_extras(data, waited)


def waited_promotion_json(request: PromoteRequest, waited: Waited) -> dict[str, Any]:
    """One target of ``promote --wait``: the fields of ``promote``'s lines, and the
    deployment's final ``status``, ``ok`` (ended ``success``) and ``error``; ``logs`` as
    in :func:`waited_json`."""
    data: dict[str, Any] = {
        "pipeline_id": str(request.pipeline_id),
        "source_app_id": str(request.source_app_id),
        "target_app_id": None if waited.app_id is None else str(waited.app_id),
        "deployment_id": str(waited.deployment_id),
        "status": waited.status,
        "ok": waited.succeeded,
        "error": None if waited.error is None else error_json(waited.error),
    }
    return _with_extras(data, waited)


def describe_waited(waited: Waited) -> str:
    """``success``, ``failed``, ``inProgress (the wait timed out)``, ``null (NotFoundError
    404: ...)``: the status, and why the wait stopped short if it did."""
    status = waited.status or "null"
    if waited.current:
        status += " (current)"
    if waited.error is None:
        return status
    if isinstance(waited.error, APITimeoutError):
        if waited.deployment is None:
            return "unknown (the wait timed out before any poll answered)"
        return f"{status} (the wait timed out)"
    return f"{status} ({short_error(waited.error)})"


_TALLY_ORDER = ("success", "failed", "cancelled", "skipped", "timed out", "error")


def tally(waited: Sequence[Waited]) -> str:
    """``3 deployments: 2 success, 1 failed`` (``timed out`` and ``error`` count the ones
    not seen to the end)."""
    counts: dict[str, int] = {}
    for w in waited:
        if w.error is None:
            key = w.status or "null"
        elif isinstance(w.error, APITimeoutError):
            key = "timed out"
        else:
            key = "error"
        counts[key] = counts.get(key, 0) + 1
    order = {key: i for i, key in enumerate(_TALLY_ORDER)}
    keys = sorted(counts, key=lambda k: (order.get(k, 3.5), k))  # others after "skipped"
    parts = ", ".join(f"{counts[key]} {key}" for key in keys)
    return f"{plural(len(waited), 'deployment')}: {parts}" if parts else "0 deployments"


def _with_extras(data: dict[str, Any], waited: Waited) -> dict[str, Any]:
    """``data`` with the fields a waited deployment has only sometimes: ``logs`` (it ended
    ``failed`` and its log was read) and ``"already_current": true``."""
    if waited.logs is not None:
        data["logs"] = logs_json(waited.logs)
    if waited.current:
        data["already_current"] = True
    return data

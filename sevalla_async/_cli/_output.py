"""What the CLI prints (pure): JSON-ready dicts for models, outcomes and errors, and tables.

JSON output is one object per line (``json.dumps`` of the dicts below), ids and timestamps
as strings, so ``jq`` and other scripts can read it line by line.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs

from .. import (
    APIResponseValidationError,
    APIStatusError,
    Deployment,
    Pipeline,
    PromoteRequest,
    Promotion,
    RateLimitError,
)

__all__ = [
    "ERROR_KEYS",
    "clean_text",
    "deployment_json",
    "deployment_row",
    "error_json",
    "json_line",
    "pipeline_json",
    "pipeline_row",
    "plural",
    "promote_request_json",
    "promotion_entry_json",
    "promotion_json",
    "promotions_table",
    "render_table",
    "short_error",
]


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _asdict(instance: Any) -> dict[str, Any]:
    result: dict[str, Any] = attrs.asdict(
        instance, value_serializer=lambda _inst, _field, value: _plain(value)
    )
    return result


MAX_TEXT = 500
"""Characters of server text (an error message) printed before it is cut short."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
_CONTROL.update({ord("\t"): " "})


def clean_text(text: object, limit: int = MAX_TEXT) -> str:
    """Server text made safe to print: lone surrogates become U+FFFD, control characters
    (escape sequences, carriage returns, newlines) are shown as ``\\xNN``, and more than
    ``limit`` characters are cut, saying how many were left out."""
    value = text if isinstance(text, str) else str(text)
    if len(value) > limit:
        value = f"{value[:limit]}... ({len(value) - limit} more characters)"
    if value.isprintable() and value.isascii():
        return value
    value = _SURROGATE.sub("\ufffd", value).translate(_CONTROL)
    return "".join(ch if ch.isprintable() or ch == " " else f"\\u{ord(ch):04x}" for ch in value)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 entry``, ``2 entries``: ``count`` and the word in the right number (``words``:
    the plural when it is not ``word + "s"``)."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {words or word + 's'}"


def json_line(data: Any) -> str:
    """One JSON document on one line (no trailing newline)."""
    return json.dumps(data, ensure_ascii=False, separators=(", ", ": "))


def promote_request_json(request: PromoteRequest) -> dict[str, Any]:
    """A promote request as sent: pipeline, source and targets."""
    return {
        "pipeline_id": str(request.pipeline_id),
        "source_app_id": str(request.source_app_id),
        "target_app_ids": [str(t) for t in request.target_app_ids],
    }


def promotion_json(request: PromoteRequest, promotion: Promotion) -> dict[str, Any]:
    """One target of ``promote``: where it came from and the deployment it started."""
    return {
        "pipeline_id": str(request.pipeline_id),
        "source_app_id": str(request.source_app_id),
        **promotion_entry_json(promotion),
    }


def promotion_entry_json(promotion: Promotion) -> dict[str, Any]:
    """One promotion of a ``promote-many`` entry: ``target_app_id``, ``deployment_id``
    (and ``"already_current": true`` for a target that already ran the build)."""
    return {
        "target_app_id": str(promotion.target_app_id),
        "deployment_id": str(promotion.deployment_id),
        **({"already_current": True} if promotion.already_current else {}),
    }


ERROR_KEYS = ("type", "message", "status", "code", "request_id", "state")
"""The keys of every error the CLI prints as JSON, each always present (``null`` when
unknown); a rate-limit error adds ``retry_after``."""


def error_json(error: BaseException | None = None, /, **known: Any) -> dict[str, Any]:
    """An error as data, in the one shape every ``--output json`` failure has: ``type``,
    ``message``, ``status`` (HTTP), ``code`` (the API's), ``request_id`` and ``state`` (the
    :class:`PromotionState` a write's error leaves its promotion in: ``not_sent`` for a
    connection refused before sending; ``null`` for a read), each ``null`` when unknown.

    ``known`` overrides or fills keys (an error recorded in a journal as a dict, a usage
    error that is no exception of the SDK's): ``error_json(type="UsageError", message=m)``.
    """
    data: dict[str, Any] = dict.fromkeys(ERROR_KEYS)
    if error is not None:
        message = getattr(error, "message", None)
        data["type"] = type(error).__name__
        data["message"] = clean_text(str(error) if message is None else message)
        if isinstance(error, (APIStatusError, APIResponseValidationError)):
            data["status"] = error.status_code
            data["request_id"] = _clean_id(error.request_id)
        if isinstance(error, APIStatusError):
            data["code"] = None if error.code is None else clean_text(error.code)
        state = getattr(error, "write_state", None)  # a promote's, a rollback's or a cancel's
        data["state"] = state.value if isinstance(state, enum.Enum) else state
        if isinstance(error, RateLimitError):
            data["retry_after"] = error.retry_after
    data.update(known)
    return data


def _clean_id(value: str | None) -> str | None:
    return None if value is None else clean_text(value, 200)


def short_error(error: BaseException) -> str:
    """``NotFoundError 404: Pipeline not found [request id req_1]`` (one line)."""
    status = getattr(error, "status_code", None)
    message = clean_text(getattr(error, "message", None) or str(error))
    text = (
        f"{type(error).__name__} {status}: {message}"
        if status
        else f"{type(error).__name__}: {message}"
    )
    request_id = getattr(error, "request_id", None)
    return f"{text} [request id {_clean_id(request_id)}]" if request_id else text


def pipeline_json(pipeline: Pipeline) -> dict[str, Any]:
    """A pipeline as the API describes it (stages included)."""
    return _asdict(pipeline)


PIPELINE_COLUMNS = ("ID", "NAME", "TYPE", "STAGES")


def pipeline_row(pipeline: Pipeline) -> tuple[str, ...]:
    stages = " > ".join(s.display_name for s in sorted(pipeline.stages, key=lambda s: s.order))
    return (str(pipeline.id), pipeline.display_name, pipeline.type, stages or "-")


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    """A deployment with every field the SDK knows."""
    return _asdict(deployment)


DEPLOYMENT_COLUMNS = ("ID", "STATUS", "TRIGGER", "CREATED", "FINISHED")


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def deployment_row(deployment: Deployment) -> tuple[str, ...]:
    status = "-" if deployment.status is None else deployment.status.value
    return (
        str(deployment.id),
        status,
        deployment.trigger or "-",
        _when(deployment.created_at),
        _when(deployment.finished_at),
    )


def render_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; a header line first."""
    table = [tuple(columns), *(tuple(r) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    return "\n".join(lines)


def format_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """One row with fixed widths (for tables printed as results arrive)."""
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()


def promotions_table(promotions: Sequence[Promotion]) -> str:
    """``promote``'s table: each target and the deployment started on it; when a target
    already ran the build (``--skip-current``) a third column says ``current`` (its
    running deployment) or ``started``."""
    rows = [
        (str(p.target_app_id), str(p.deployment_id), "current" if p.already_current else "started")
        for p in promotions
    ]
    if any(p.already_current for p in promotions):
        return render_table(("TARGET APP", "DEPLOYMENT", "STATUS"), rows)
    return render_table(("TARGET APP", "DEPLOYMENT"), [row[:2] for row in rows])

"""The deployment logs endpoint (``getApplicationDeploymentLogsV3``), without I/O.

Builds the request after checking its arguments against the spec's rules, and turns the
reply into :class:`LogEntry` values. Log text is the server's and untrusted: every
control character is escaped, every field's size capped, and a reply of the wrong shape
is an :class:`APIResponseValidationError` (through :func:`~sevalla_async._protocol.decode`).
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from ._convert import converter
from ._ids import to_uuid
from ._logsafe import printable
from ._models import LogEntry
from ._protocol import Request

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_MESSAGE",
    "LogEntries",
    "logs_request",
    "sanitize",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 5000
"""The spec's bounds for ``limit``: 1 to 5000."""
MAX_MESSAGE = 4096
"""Characters of a message kept (after escaping); the rest is cut and marked."""
MAX_NAME = 256
"""Characters kept of ``id``, ``severity``, ``service`` and of tag and attribute keys."""
MAX_VALUE = 1024
"""Characters kept of a tag or attribute value."""

# A normal entry is a few hundred bytes; this much per entry asked for (and a floor)
# never refuses a normal reply, while a hostile one stays bounded.
_REPLY_PER_ENTRY = 8 * 1024
_REPLY_FLOOR = 256 * 1024

_SEVERITY = re.compile(r"[A-Za-z]{1,32}", re.ASCII)
_FIELDS = ("id", "message", "service", "severity", "timestamp", "tags", "attributes")
_MAX_MICROSECONDS = 253_402_300_799_000_000  # 9999-12-31T23:59:59Z
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def sanitize(text: str, limit: int) -> str:
    """``text`` with control and bidi characters escaped, cut at ``limit`` characters
    (the cut marked ``... [truncated, N characters]``, N the length before the cut)."""
    safe = printable(text)
    if len(safe) <= limit:
        return safe
    return f"{safe[:limit]}... [truncated, {len(safe)} characters]"


def _utc_text(value: datetime, name: str) -> str:
    """The spec's date-time for the query: UTC, milliseconds, ``Z``."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name}: expected an aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: must be timezone-aware (a naive datetime has no zone)")
    moment = value.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _check_limit(limit: int) -> int:
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def _check_severity(severity: str | None) -> str | None:
    if severity is None:
        return None
    if not isinstance(severity, str) or not _SEVERITY.fullmatch(severity):
        raise ValueError(
            f"severity: expected a level such as 'ERROR', 'WARN', 'INFO' or 'DEBUG' "
            f"(letters only), got {severity!r}"[:200]
        )
    return severity.upper()


def logs_request(
    app_id: uuid.UUID | str,
    deployment_id: uuid.UUID | str,
    *,
    severity: str | None,
    limit: int,
    since: datetime | None,
    until: datetime | None,
) -> Request:
    """``GET /applications/{id}/deployments/{deployment_id}/logs``, its arguments checked
    against the spec (``ValueError`` naming the argument): ``limit`` 1-5000, ``from`` and
    ``to`` UTC date-times (``since`` not after ``until``), ``severity`` as an ``EQUALS``
    filter."""
    app = to_uuid(app_id, "app_id")
    dep = to_uuid(deployment_id, "deployment_id")
    _check_limit(limit)
    level = _check_severity(severity)
    params = {"limit": str(limit)}
    if since is not None:
        params["from"] = _utc_text(since, "since")
    if until is not None:
        params["to"] = _utc_text(until, "until")
    if since is not None and until is not None and since > until:
        raise ValueError(f"since: {params['from']} is after until ({params['to']})")
    if level is not None:
        filters = [{"key": "severity", "operator": "EQUALS", "value": level}]
        params["filters"] = json.dumps(filters, separators=(",", ":"))
    return Request(
        "GET",
        f"/applications/{app}/deployments/{dep}/logs",
        params={k: quote(v, safe="") for k, v in params.items()},
        reply_size=_REPLY_FLOOR + _REPLY_PER_ENTRY * limit,
        accept=functools.partial(_within_limit, limit),
        wire=LogEntries,
    )


def _within_limit(limit: int, entries: list[LogEntry]) -> list[LogEntry]:
    if len(entries) > limit:
        raise ValueError(f"{len(entries)} log entries, more than the limit of {limit} asked")
    # Oldest first (a stable sort: the API's order among equals).
    entries.sort(key=lambda entry: entry.timestamp)
    return entries


class LogEntries:
    """Decode target of the logs reply: a JSON array of log objects, as a list of
    :class:`LogEntry` (see :func:`_structure_entries`)."""


def _text(item: dict[str, Any], key: str, limit: int) -> str:
    value = item[key]
    if type(value) is not str:
        raise TypeError(f"{key}: expected a string, got {type(value).__name__}")
    return sanitize(value, limit)


def _mapping(item: dict[str, Any], key: str) -> dict[str, str]:
    value = item[key]
    if type(value) is not dict:
        raise TypeError(f"{key}: expected an object, got {type(value).__name__}")
    out: dict[str, str] = {}
    for name, raw in value.items():
        text = raw if type(raw) is str else json.dumps(raw, separators=(",", ":"))
        out[sanitize(name, MAX_NAME)] = sanitize(text, MAX_VALUE)
    return out


def _moment(item: dict[str, Any]) -> datetime:
    micros = item["unix_timestamp"]
    if type(micros) not in (int, float) or not math.isfinite(micros):
        raise TypeError(f"unix_timestamp: expected a number, got {type(micros).__name__}")
    if not 0 <= micros <= _MAX_MICROSECONDS:
        raise ValueError(f"unix_timestamp: {micros!r} is out of range")
    return _EPOCH + timedelta(microseconds=int(micros))


def _entry(item: Any) -> LogEntry:
    if type(item) is not dict:
        raise TypeError(f"expected an object, got {type(item).__name__}")
    for key in (*_FIELDS, "unix_timestamp"):
        if key not in item:
            raise KeyError(f"{key}: required field is missing")
    _text(item, "timestamp", MAX_NAME)  # type-checked only: unix_timestamp is exact
    return LogEntry(
        id=_text(item, "id", MAX_NAME),
        timestamp=_moment(item),
        severity=_text(item, "severity", MAX_NAME),
        message=_text(item, "message", MAX_MESSAGE),
        service=_text(item, "service", MAX_NAME),
        tags=_mapping(item, "tags"),
        attributes=_mapping(item, "attributes"),
    )


def _structure_entries(data: Any, _: Any) -> list[LogEntry]:
    if type(data) is not list:
        raise TypeError(f"expected an array of log entries, got {type(data).__name__}")
    entries: list[LogEntry] = []
    for index, item in enumerate(data):
        try:
            entries.append(_entry(item))
        except (TypeError, KeyError, ValueError, OverflowError, RecursionError) as exc:
            why = str(exc.args[0]) if exc.args else type(exc).__name__
            field = why.split(":", 1)[0] in (*_FIELDS, "unix_timestamp")
            raise ValueError(f"[{index}]{'.' if field else ': '}{why}"[:300]) from None
    return entries


converter.register_structure_hook(LogEntries, _structure_entries)

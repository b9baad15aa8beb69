"""The fake's deployment logs: entries as the spec's log objects, checked on the way in."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from .._build import Build

__all__ = ["FIELDS", "failure_lines", "log_entry", "micros_of", "newest", "stamp_text"]

FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "message": str,
    "service": str,
    "severity": str,
    "timestamp": str,
    "tags": dict,
    "attributes": dict,
    "unix_timestamp": (int, float),
}
"""The spec's log object: every field is required, no other is allowed."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ids = itertools.count(1)


def micros_of(moment: datetime) -> int:
    """Microseconds since the Unix epoch (the spec's ``unix_timestamp``)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def stamp_text(micros: float) -> str:
    """The spec's formatted ``timestamp`` (``2026-02-22 15:30:00.000``, UTC)."""
    moment = _EPOCH + timedelta(microseconds=int(micros))
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def log_entry(entry: Mapping[str, Any], *, default_micros: int, index: int) -> dict[str, Any]:
    """``entry`` completed into a spec-valid log object: a missing ``id``, ``service``
    (``APP_DEPLOYMENT``), ``severity`` (``INFO``), ``tags``, ``attributes`` or time gets a
    default (``default_micros``; ``timestamp`` follows ``unix_timestamp``). An unknown key
    or a value of the wrong type is a ``ValueError`` naming ``entries[index]``."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"entries[{index}]: expected a dict, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise ValueError(f"entries[{index}].{unknown[0]}: not a field of the spec's log entry")
    micros = entry.get("unix_timestamp", default_micros)
    out: dict[str, Any] = {
        "id": f"log-{next(_ids)}",
        "message": "",
        "service": "APP_DEPLOYMENT",
        "severity": "INFO",
        "timestamp": stamp_text(micros) if isinstance(micros, (int, float)) else "",
        "tags": {},
        "attributes": {},
        "unix_timestamp": micros,
        **entry,
    }
    for key, kind in FIELDS.items():
        value = out[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"entries[{index}].{key}: expected {key} of the spec's type")
    return out


def failure_lines(start: datetime, build: Build | None, reason: str) -> list[dict[str, Any]]:
    """The log of a deployment the fake fails on purpose: the build's steps, then ERROR
    lines saying why (``reason``)."""
    sha = (build.commit_sha if build is not None else None) or "HEAD"
    image = (build.docker_image_url if build is not None else None) or "the image"
    lines = [
        ("INFO", f"Checking out commit {sha[:12]}"),
        ("INFO", f"Building {image}"),
        ("ERROR", f"Build failed: {reason}"),
        ("ERROR", "Deployment failed: the build did not produce an image; nothing was rolled out"),
    ]
    first = micros_of(start)
    return [
        log_entry(
            {"severity": severity, "message": message, "unix_timestamp": first + i * 1_000_000},
            default_micros=first,
            index=i,
        )
        for i, (severity, message) in enumerate(lines)
    ]


def newest(entries: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` latest entries, oldest first."""
    return sorted(entries, key=lambda e: e["unix_timestamp"])[-limit:]

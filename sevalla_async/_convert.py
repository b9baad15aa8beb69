"""The package's one cattrs converter (built once, at import).

Replies are structured strictly: a field of the wrong JSON type is an error (cattrs would
otherwise call ``str(5)`` happily), unknown keys are ignored, UUIDs become
:class:`uuid.UUID`, timestamps become aware :class:`datetime`.
"""

from __future__ import annotations

import re
import typing
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import cattrs
from cattrs.errors import IterableValidationError, IterableValidationNote

from ._models import DeploymentStatus

__all__ = ["converter"]


converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)


def _structure_uuid(value: Any, _: type) -> uuid.UUID:
    if type(value) is not str:
        raise TypeError(f"expected a UUID string, got {type(value).__name__}")
    return uuid.UUID(value)


# The spec's date-time: seconds optional, any number of fraction digits, "Z". Offsets are
# accepted too; a timestamp without zone is taken as UTC. (datetime.fromisoformat before
# Python 3.11 accepts only 3 or 6 fraction digits, hence the explicit parse.)
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def _structure_datetime(value: Any, _: type) -> datetime:
    if type(value) is not str:
        raise TypeError(f"expected an ISO 8601 timestamp, got {type(value).__name__}")
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp")
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    zone = timezone.utc
    if sign is not None:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(-offset if sign == "-" else offset)
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second or 0),
        int((fraction or "0")[:6].ljust(6, "0")),
        tzinfo=zone,
    )


def _strict(kind: type) -> Any:
    def structure(value: Any, _: type) -> Any:
        # bool is an int subclass, so compare exact types.
        if type(value) is not kind and not (kind is float and type(value) is int):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def _structure_status(value: Any, _: type) -> DeploymentStatus:
    if type(value) is not str:
        raise TypeError(f"expected a status string, got {type(value).__name__}")
    return DeploymentStatus(value)  # a value unknown to this SDK is UNKNOWN, not an error


def _is_homogeneous_sequence(kind: Any) -> bool:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list:
        return len(args) == 1
    return origin is tuple and len(args) == 2 and args[1] is Ellipsis


def _sequence_hook(kind: Any) -> Callable[[Any, Any], Any]:
    """``list[X]`` / ``tuple[X, ...]`` from a JSON array only (cattrs would iterate a string
    or an object), keeping cattrs' per-index error notes."""
    item = typing.get_args(kind)[0]
    as_tuple = typing.get_origin(kind) is tuple
    item_hook = converter.get_structure_hook(item)

    def structure(value: Any, _: Any) -> Any:
        if type(value) is not list:
            raise TypeError(f"expected an array, got {type(value).__name__}")
        out: list[Any] = []
        errors: list[Exception] = []
        for index, element in enumerate(value):
            try:
                out.append(item_hook(element, item))
            except Exception as exc:
                note = IterableValidationNote(f"Structuring {kind} @ index {index}", index, item)
                typing.cast(Any, exc).__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {kind!r}", errors, kind)
        return tuple(out) if as_tuple else out

    return structure


converter.register_structure_hook(uuid.UUID, _structure_uuid)
converter.register_structure_hook(datetime, _structure_datetime)
converter.register_structure_hook(DeploymentStatus, _structure_status)
for _kind in (str, int, float, bool):
    converter.register_structure_hook(_kind, _strict(_kind))
converter.register_structure_hook_factory(_is_homogeneous_sequence, _sequence_hook)

"""The API's identifier rules (pure).

Every id in the Sevalla v3 API is a UUID written in canonical form that matches the spec's
pattern: versions 1-8, RFC 4122 variant (first hex digit of the fourth group 8-b), or the
nil and max UUIDs. Anything else is refused before it reaches the network.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeAlias, TypeVar

_T_co = TypeVar("_T_co", covariant=True)


class IdCollection(Protocol[_T_co]):
    """A sized collection of ids that is not a ``str``: a list, tuple, set, dict keys...

    For type checkers only: a ``str`` is a sequence of ``str`` too, so ``Iterable[str]``
    would take ``target_app_ids="<uuid>"`` (a run-time ``ValueError``). ``str.__contains__``
    accepts only ``str`` where this protocol's accepts any object, so mypy and pyright both
    refuse a ``str`` (and ``bytes``) here, and accept every real collection.
    """

    def __contains__(self, value: object, /) -> bool: ...
    def __iter__(self) -> Iterator[_T_co]: ...
    def __len__(self) -> int: ...


TargetAppIds: TypeAlias = IdCollection[str | uuid.UUID] | Iterator[str | uuid.UUID]
"""What ``target_app_ids`` accepts: a collection of ids (``str`` or :class:`uuid.UUID`) or
an iterator of them (a generator); a plain ``str`` is refused by type checkers (and with a
``ValueError`` at run time)."""

# The pattern of every ``format: uuid`` string in the official OpenAPI document.
UUID_PATTERN = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
_UUID_RE = re.compile(UUID_PATTERN)


def is_api_uuid(text: str) -> bool:
    """True when ``text`` matches the API's UUID pattern exactly."""
    return _UUID_RE.fullmatch(text) is not None


_MAX = (1 << 128) - 1


def _api_accepts(n: int) -> bool:
    """:data:`UUID_PATTERN` on the 128-bit value: version nibble 1-8 and the RFC 4122
    variant (top bits ``10`` of the clock-sequence byte), or the nil / max UUID."""
    return (1 <= (n >> 76) & 0xF <= 8 and (n >> 62) & 0x3 == 0b10) or n == 0 or n == _MAX


def is_api_id(value: Any) -> bool:
    """True when ``value`` is a :class:`uuid.UUID` the API accepts (the rule of
    :func:`to_uuid`, without building an error)."""
    return isinstance(value, uuid.UUID) and _api_accepts(value.int)


MAX_SHOWN = 100
"""Characters of an invalid id quoted in an error message; the rest is counted, not shown
(an id read from a file or a command line can be megabytes long)."""


def shown(value: str) -> str:
    """``value`` quoted for an error message (``repr``), cut after :data:`MAX_SHOWN`
    characters: ``'aaaa...' (1048476 more characters)``."""
    if len(value) <= MAX_SHOWN:
        return repr(value)
    return f"{value[:MAX_SHOWN]!r}... ({len(value) - MAX_SHOWN} more characters)"


def to_uuid(value: Any, field: str) -> uuid.UUID:
    """Return ``value`` as a :class:`uuid.UUID` the API accepts, or raise ``ValueError``.

    ``value`` may be a ``UUID`` or its canonical string (any case). The error names
    ``field`` and the offending value (cut short past :data:`MAX_SHOWN` characters).
    """
    if isinstance(value, str):
        if _UUID_RE.fullmatch(value) is not None:
            return uuid.UUID(value)
        raise ValueError(
            f"{field}: {shown(value)} is not a valid UUID "
            "(expected the canonical form, e.g. 'fb5e5168-4281-4bec-94c5-0d1584e9e657')"
        )
    if isinstance(value, uuid.UUID):
        if _api_accepts(value.int):
            return value
        raise ValueError(
            f"{field}: {value} is not an id the Sevalla API accepts "
            "(UUID version must be 1-8 with the RFC 4122 variant, or the nil/max UUID)"
        )
    raise ValueError(f"{field}: expected a UUID or a UUID string, got {type(value).__name__}")


def to_uuid_list(values: Any, field: str) -> tuple[uuid.UUID, ...]:
    """Validate a non-empty list of distinct ids; errors name ``field[index]``."""
    if type(values) not in (list, tuple) and (
        isinstance(values, (str, bytes, uuid.UUID)) or not isinstance(values, Iterable)
    ):
        raise ValueError(f"{field}: expected a list of UUIDs, got {type(values).__name__}")
    ids: list[uuid.UUID] = []
    match = _UUID_RE.fullmatch
    for i, v in enumerate(values):
        # The common case inline: a canonical string (the field name is built on error only).
        if type(v) is str and match(v) is not None:
            ids.append(uuid.UUID(v))
        else:
            ids.append(to_uuid(v, f"{field}[{i}]"))
    if not ids:
        raise ValueError(f"{field}: at least one id is required")
    if len({u.int for u in ids}) != len(ids):
        seen: set[int] = set()
        for i, u in enumerate(ids):
            if u.int in seen:
                raise ValueError(f"{field}[{i}]: duplicate id {u}")
            seen.add(u.int)
    return tuple(ids)

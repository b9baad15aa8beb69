"""The package's one cattrs converter (built once, at import).

Replies are structured strictly: a field of the wrong JSON type is an error (cattrs would
otherwise call ``str(5)`` happily), unknown keys are ignored, UUIDs become
:class:`uuid.UUID`, timestamps become aware :class:`datetime`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

import attrs
import cattrs

from ._ids import _CANONICAL_RE, parse_uuid, uuid_from_canonical
from ._models import DeploymentStatus, Promotion

__all__ = ["converter", "structure_hook"]

T = TypeVar("T")

converter = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)


def _structure_uuid(value: Any, _: type) -> uuid.UUID:
    if type(value) is not str:
        raise TypeError(f"expected a UUID string, got {type(value).__name__}")
    return parse_uuid(value)  # uuid.UUID(value), with a fast path for canonical strings


def _structure_datetime(value: Any, _: type) -> datetime:
    if type(value) is not str:
        raise TypeError(f"expected an ISO 8601 timestamp, got {type(value).__name__}")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    return datetime.fromisoformat(text)


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
    return DeploymentStatus(value)


converter.register_structure_hook(uuid.UUID, _structure_uuid)
converter.register_unstructure_hook(uuid.UUID, str)
converter.register_structure_hook(datetime, _structure_datetime)
converter.register_unstructure_hook(datetime, lambda d: d.isoformat().replace("+00:00", "Z"))
converter.register_structure_hook(DeploymentStatus, _structure_status)
for _kind in (str, int, float, bool):
    converter.register_structure_hook(_kind, _strict(_kind))


def _fast_promotions() -> None:
    """The promote reply (``list[Promotion]``) is decoded on every promotion: give it a
    direct path for the usual shape (a list of objects with two canonical UUID strings,
    extra keys ignored), 3x cheaper than the generated code. Anything else goes to the
    generated hook, so errors and their messages are exactly cattrs'. If ``Promotion``
    gains a field, the fast path steps aside rather than skip it."""
    if tuple(a.name for a in attrs.fields(Promotion)) != ("target_app_id", "deployment_id"):
        return  # pragma: no cover - the model changed; the generated hook does it all
    generated = converter.get_structure_hook(list[Promotion])
    canonical = _CANONICAL_RE.fullmatch
    build = uuid_from_canonical

    def structure(data: Any, kind: Any) -> list[Promotion]:
        if type(data) is not list:
            return generated(data, kind)  # type: ignore[no-any-return]
        out: list[Promotion] = []
        for item in data:
            if type(item) is dict:
                target = item.get("target_app_id")
                deployment = item.get("deployment_id")
                if (
                    type(target) is str
                    and type(deployment) is str
                    and canonical(target) is not None
                    and canonical(deployment) is not None
                ):
                    out.append(Promotion(build(target), build(deployment)))
                    continue
            return generated(data, kind)  # type: ignore[no-any-return]
        return out

    promotions = list[Promotion]
    converter.register_structure_hook_func(lambda kind: kind == promotions, structure)


_fast_promotions()


def structure_hook(kind: type[T]) -> Any:
    """The compiled structure function for ``kind`` (look it up once, call it often)."""
    return converter.get_structure_hook(kind)

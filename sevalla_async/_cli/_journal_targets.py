"""The per-target record of a journal entry: each target's state and its own send.

A ``result`` event carries ``targets`` (one ``{target_app_id, state, sent_at,
deployment_id}`` per target, as :attr:`PromoteOutcome.targets` or a resume's error
``targets`` give them); a ``sent`` event of a resume's re-send names the targets it
covers. A 0.2 journal has neither: every target is then derived from the entry's
``promotions``, ``state`` and ``sent_at``. No I/O here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .. import PromoteRequest, Promotion, PromotionState, TargetOutcome

__all__ = ["derive_outcomes", "parse_targets", "resent", "target_json", "when"]

_PROMOTED = PromotionState.PROMOTED
_UNKNOWN = PromotionState.UNKNOWN


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def when(value: Any) -> datetime | None:
    """An aware datetime from ISO text (``None`` for anything else)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def target_json(outcome: TargetOutcome) -> dict[str, Any]:
    """One target's outcome as journal data."""
    deployment = outcome.deployment_id
    return {
        "target_app_id": str(outcome.target_app_id),
        "state": outcome.state.value,
        "sent_at": _iso(outcome.sent_at),
        "deployment_id": None if deployment is None else str(deployment),
    }


def parse_targets(value: Any) -> tuple[TargetOutcome, ...]:
    """The ``targets`` of a ``result`` event (``()`` when absent: a 0.2 journal);
    ``ValueError``/``KeyError``/``TypeError`` for malformed data."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("targets: not a list")
    out = []
    for item in value:
        deployment = item.get("deployment_id")
        out.append(
            TargetOutcome(
                uuid.UUID(item["target_app_id"]),
                PromotionState(item["state"]),
                when(item.get("sent_at")),
                None if deployment is None else uuid.UUID(deployment),
            )
        )
    return tuple(out)


def resent(targets: Sequence[TargetOutcome], event: Mapping[str, Any]) -> tuple[TargetOutcome, ...]:
    """``targets`` after a ``sent`` event of a re-send: the targets it names are
    ``unknown`` from this send's time (``at``); the others keep their record."""
    at = when(event.get("at"))
    again = [uuid.UUID(t) for t in event["targets"]]
    kept = [o for o in targets if o.target_app_id not in again]
    return tuple(kept + [TargetOutcome(t, _UNKNOWN, at) for t in again])


def derive_outcomes(
    request: PromoteRequest,
    own: Iterable[TargetOutcome],
    promotions: Iterable[Promotion],
    state: PromotionState,
    since: datetime | None,
) -> tuple[TargetOutcome, ...]:
    """Every target of ``request`` (in target order): its own record (``own``), else a
    target with a promotion is promoted, else it has the entry's ``state`` (``unknown``
    from ``since``; ``promoted`` without a promotion reads ``unknown``)."""
    mine = {o.target_app_id: o for o in own}
    made = {p.target_app_id: p.deployment_id for p in promotions}
    if state is _PROMOTED:
        state = _UNKNOWN
    out = []
    for target in request.target_app_ids:
        if target in mine:
            out.append(mine[target])
        elif target in made:
            out.append(TargetOutcome(target, _PROMOTED, since, made[target]))
        else:
            out.append(TargetOutcome(target, state, since if state is _UNKNOWN else None))
    return tuple(out)

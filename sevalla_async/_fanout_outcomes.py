"""The outcome of one fan-out entry, built once from its write record.

:func:`done_outcome` for a request whose promotions came back (with ``wait=True``: and its
deployments, or the wait's error), :func:`failed_outcome` for one that raised or was
cancelled in flight, :func:`unsent_outcome` for one never sent (invalid, a repeat, skipped
after a ``fail_fast`` stop, or read when the run was cancelled).
"""

from __future__ import annotations

from datetime import datetime

from ._errors import APIError
from ._models import Deployment, PromoteRequest, Promotion
from ._outcomes import PromotionState
from ._promote_outcome import PromoteOutcome, state_of
from ._record import TargetOutcome, WriteRecord, combined_state

__all__ = ["done_outcome", "failed_outcome", "unsent_outcome"]


def unsent_outcome(item: object, index: int, error: BaseException | None = None) -> PromoteOutcome:
    """The outcome of an entry never sent (``error``: why, e.g. the ``ValueError`` of an
    invalid entry)."""
    return PromoteOutcome(item, None, error, index, sent=False)


def done_outcome(
    request: PromoteRequest,
    index: int,
    record: WriteRecord,
    promotions: list[Promotion],
    error: BaseException | None = None,
    deployments: list[Deployment] | None = None,
) -> PromoteOutcome:
    """The outcome of a request whose promotions came back (found or made); with
    ``wait=True``, its ``deployments`` and the wait's ``error``."""
    # reconciled, or skipped current targets: the targets may differ
    targets = record.outcomes() if record.per_target else None
    return PromoteOutcome(
        request,
        promotions,
        error,
        index,
        True,
        deployments,
        state=PromotionState.PROMOTED,
        sent_at=record.send.sent_at if targets is None else _first_sent(targets),
        per_target=targets,
    )


def failed_outcome(
    request: PromoteRequest, index: int, record: WriteRecord, error: Exception | None
) -> PromoteOutcome:
    """The outcome of a request that raised ``error`` (``None``: cancelled in flight), from
    its write record: per target when a promotion was found before the failure, so that
    nothing found is lost."""
    if record.per_target:
        targets = record.outcomes()
        made = [
            Promotion(t.target_app_id, t.deployment_id)
            for t in targets
            if t.deployment_id is not None
        ]
        return PromoteOutcome(
            request,
            made or None,
            error,
            index,
            True,
            state=combined_state(targets),
            sent_at=_first_sent(targets),
            per_target=targets,
        )
    sent_at = record.send.sent_at
    if isinstance(error, (APIError, ValueError)):
        state = state_of(error)
    else:  # cancelled, or not the API's answer (e.g. the client was closed): did it leave?
        state = PromotionState.UNKNOWN if sent_at else PromotionState.NOT_SENT
    sent = state is not PromotionState.NOT_SENT
    return PromoteOutcome(request, None, error, index, sent, state=state, sent_at=sent_at)


def _first_sent(targets: tuple[TargetOutcome, ...]) -> datetime | None:
    """When the first target that was sent left."""
    return next((t.sent_at for t in targets if t.sent_at is not None), None)

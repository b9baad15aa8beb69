"""The rollbacks of a failed wave, one at a time per worker of the bounded-work engine:
each sent with its own write record (a :class:`Send`), each accounted for on every exit
path (an earlier run's rollback is never sent again)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from ._errors import APIError
from ._models import Deployment
from ._outcomes import PromotionState
from ._promote_outcome import state_of
from ._record import Send
from ._release_reports import RollbackOutcome

__all__ = ["Rollback", "RollbackPool", "earlier_rollback"]


def earlier_rollback(app: uuid.UUID, wave: int, deployment_id: uuid.UUID | None) -> RollbackOutcome:
    """The rollback an earlier run made of ``app`` (``unknown`` when its deployment is not
    known: it may have been sent without a reply seen)."""
    state = PromotionState.PROMOTED if deployment_id is not None else PromotionState.UNKNOWN
    return RollbackOutcome(app, wave, None, None, state)


Rollback = Callable[[uuid.UUID, Send], Awaitable[Deployment]]


class RollbackPool:
    """The rollback of one app of a failed wave, as the engine's work; once
    ``on_rollback_send`` raised, nothing more is sent (each later app: ``not_sent``)."""

    def __init__(
        self,
        wave: int,
        rollback: Rollback,
        on_send: Callable[[int, uuid.UUID], object] | None,
    ) -> None:
        self._wave = wave
        self._rollback = rollback
        self._on_send = on_send
        self._refused: Exception | None = None
        self._marks: dict[int, Send] = {}

    async def one(self, index: int, app: uuid.UUID) -> RollbackOutcome:
        wave = self._wave
        if self._on_send is not None and self._refused is None:
            try:
                self._on_send(wave, app)  # e.g. journal it before it leaves
            except Exception as exc:
                self._refused = exc
        if self._refused is not None:
            return RollbackOutcome(app, wave, None, self._refused, PromotionState.NOT_SENT)
        self._marks[index] = mark = Send()
        try:
            deployment = await self._rollback(app, mark)
        except (APIError, ValueError) as exc:
            state = state_of(exc)
            sent_at = mark.sent_at if state is PromotionState.UNKNOWN else None
            return RollbackOutcome(app, wave, None, exc, state, sent_at)
        return RollbackOutcome(app, wave, deployment, sent_at=mark.sent_at)

    def cancelled(self, index: int, app: uuid.UUID) -> RollbackOutcome:
        """A rollback the run's end left without an outcome: ``unknown`` once sent."""
        mark = self._marks.get(index)
        sent_at = mark.sent_at if mark is not None else None
        state = PromotionState.UNKNOWN if sent_at else PromotionState.NOT_SENT
        return RollbackOutcome(app, self._wave, None, None, state, sent_at)

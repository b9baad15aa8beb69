"""The outcome of one promote request: what a failed call leaves its promotion in
(:func:`state_of`, :func:`settle_state`: pure rules over the error's facts) and the
:class:`PromoteOutcome` of a fan-out, which derives its state from them.

Nothing here does I/O. The request loop records *when* an attempt may have reached the API
on the caller's write record (:mod:`._record`, passed down explicitly) and asks
:func:`state_of` what an error means.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import attrs

from ._errors import APIConnectionError, APIError, APIResponseValidationError, APIStatusError
from ._models import Deployment, PromoteRequest, Promotion
from ._outcomes import PromotionState, utc_from_unix
from ._record import TargetOutcome

__all__ = ["PromoteOutcome", "settle_state", "state_of"]


def state_of(error: BaseException) -> PromotionState:
    """The state a promote call that raised ``error`` leaves its promotion in.

    Only the last attempt can have reached the API: a POST is retried only after a failure
    that proves the API did not act (a 429, a connection never opened).
    """
    known = getattr(error, "write_state", None)
    if isinstance(known, PromotionState):
        return known
    if isinstance(error, APIStatusError):
        status = error.status_code
        if status == 429:
            return PromotionState.NOT_SENT
        if 400 <= status < 500:
            return PromotionState.REJECTED
        return PromotionState.UNKNOWN
    if isinstance(error, APIConnectionError):
        return PromotionState.UNKNOWN if error.request_sent else PromotionState.NOT_SENT
    if isinstance(error, APIResponseValidationError):
        return PromotionState.UNKNOWN
    if isinstance(error, ValueError):
        return PromotionState.NOT_SENT
    return PromotionState.UNKNOWN


def settle_state(error: APIError, sent_wall: float | None, *, promotes: bool) -> bool:
    """Record on ``error`` (raised by a write, about to leave the request loop) the state
    it leaves the write in (``write_state``; for a promote, ``promotion_state`` too), and
    ``sent_at`` when that is ``unknown``: the one place they are set. True when the write
    was certainly not acted on (``not_sent``)."""
    state = state_of(error)
    error.write_state = state
    if promotes:
        error.promotion_state = state
    if state is PromotionState.UNKNOWN and sent_wall is not None and error.sent_at is None:
        error.sent_at = utc_from_unix(sent_wall)
    return state is PromotionState.NOT_SENT


@attrs.frozen(slots=True)
class PromoteOutcome:
    """The result of one request of a fan-out (:meth:`Pipelines.promote_many`,
    :meth:`Pipelines.promote_iter`).

    ``request`` is the validated :class:`PromoteRequest`, or the raw input when it was
    invalid (typed ``object``: narrow it with ``isinstance(outcome.request,
    PromoteRequest)``). ``index`` is the position of the request in the input. One of three cases:

    - accepted: ``promotions`` is set, ``error`` is ``None`` (``ok`` is true);
    - failed: ``error`` is set: the :class:`SevallaError` of the call, or the
      ``ValueError`` of an invalid entry (which was never sent: ``sent`` is false);
    - skipped: ``fail_fast`` stopped the run before this request's turn; ``promotions`` and
      ``error`` are ``None`` and ``sent`` is false (``skipped`` is true).

    With ``wait=True`` the fan-out also waits for each promotion's deployments:
    ``deployments`` holds their final states, in the order of the request's targets. A
    deployment that ended ``failed`` is a result, not an error: the outcome is ``ok`` but
    not ``succeeded``. When some deployment could not be waited for to the end (the wait's
    timeout, an API error), ``error`` is the :class:`WaitAllError` (every result is in its
    ``results``), ``promotions`` still tells what was promoted, and ``deployments`` holds
    those that finished; ``ok`` is then false.
    """

    request: PromoteRequest | object
    promotions: list[Promotion] | None = None
    error: BaseException | None = None
    index: int = -1
    sent: bool = True
    """False when the SDK never tried to send the request (invalid, or skipped)."""
    deployments: list[Deployment] | None = None
    """With ``wait=True``: the final deployments, in target order (``None`` otherwise)."""
    state: PromotionState = attrs.field(default=None)
    """The :class:`PromotionState`: ``promoted`` when ``promotions`` is set; else that of
    ``error`` (``error.promotion_state``); ``not_sent`` for an invalid or skipped entry;
    ``unknown`` for a request in flight when the fan-out was cancelled."""
    sent_at: datetime | None = None
    """When the request was sent (an aware UTC datetime), for ``unknown`` outcomes (and
    every outcome whose request left); ``None`` when it never left."""
    per_target: tuple[TargetOutcome, ...] | None = None
    """Every target's outcome when they differ (a promotion found by reconciling, then a
    re-send that failed or was cancelled); ``None`` when every target shares ``state``
    and ``sent_at``. Read :attr:`targets` rather than this."""

    def __attrs_post_init__(self) -> None:
        if cast("PromotionState | None", self.state) is None:  # not given: derive it
            if self.promotions is not None:
                state = PromotionState.PROMOTED
            elif self.error is not None:
                state = state_of(self.error)
            else:
                state = PromotionState.NOT_SENT
            object.__setattr__(self, "state", state)
        if self.sent_at is None and self.error is not None:
            sent = getattr(self.error, "sent_at", None)
            if isinstance(sent, datetime):
                object.__setattr__(self, "sent_at", sent)

    @property
    def targets(self) -> tuple[TargetOutcome, ...]:
        """Every target's :class:`TargetOutcome` (state, ``sent_at``, deployment), in
        target order: what a journal must keep so that no target is promoted twice.
        Empty for an invalid entry."""
        if self.per_target is not None:
            return self.per_target
        if not isinstance(self.request, PromoteRequest):
            return ()
        made = {p.target_app_id: p.deployment_id for p in self.promotions or ()}
        return tuple(
            TargetOutcome(
                t,
                PromotionState.PROMOTED if t in made else self.state,
                self.sent_at,
                made.get(t),
            )
            for t in self.request.target_app_ids
        )

    @property
    def ok(self) -> bool:
        """True when the promotion was accepted by the API and nothing went wrong (with
        ``wait=True``: and every deployment was waited for to the end, whatever its
        status)."""
        return self.error is None and self.promotions is not None

    @property
    def succeeded(self) -> bool:
        """``ok``, and with ``wait=True`` every deployment also ended with ``success``."""
        return self.ok and (self.deployments is None or all(d.succeeded for d in self.deployments))

    @property
    def skipped(self) -> bool:
        """True when ``fail_fast`` stopped the fan-out before this request was sent."""
        return not self.sent and self.error is None

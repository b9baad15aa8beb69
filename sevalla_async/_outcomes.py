"""What happened to a promotion: the four :class:`PromotionState` values and the pure rules
that map the facts of a failed call to one of them.

Nothing here does I/O. The request loop records *when* an attempt may have reached the API
on the caller's write record (:mod:`._record`, passed down explicitly) and asks
:func:`state_of` what an error means.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._errors import APIError

__all__ = [
    "PromotionState",
    "settle_state",
    "state_of",
    "utc_from_unix",
]


class PromotionState(str, enum.Enum):
    """Where a promotion stands.

    - ``promoted``: done; the deployment ids are known.
    - ``rejected``: the API refused it (a 4xx other than 429) and did nothing.
    - ``not_sent``: it never reached the API, or the API did not act (a 429, a connection
      that could not be opened, the client closed, skipped by ``fail_fast``...).
    - ``unknown``: it may or may not have happened (a 5xx, a timeout or a lost connection
      after sending, a 2xx reply that cannot be read or does not cover every target, a
      cancellation while in flight): reconcile it before sending it again.
    """

    PROMOTED = "promoted"
    REJECTED = "rejected"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


def state_of(error: BaseException) -> PromotionState:
    """The state a promote call that raised ``error`` leaves its promotion in.

    Only the last attempt can have reached the API: a POST is retried only after a failure
    that proves the API did not act (a 429, a connection never opened).
    """
    from ._errors import (  # local: _errors imports this module for its annotations
        APIConnectionError,
        APIResponseValidationError,
        APIStatusError,
    )

    known = getattr(error, "promotion_state", None)
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


def utc_from_unix(seconds: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def settle_state(error: APIError, sent_wall: float | None) -> bool:
    """Record on ``error`` (raised by a write, about to leave the request loop) the state
    it leaves the promotion in, and ``sent_at`` when that is ``unknown``: the one place an
    error's ``promotion_state`` is set. True when the write was certainly not acted on
    (``not_sent``)."""
    state = state_of(error)
    error.promotion_state = state
    if state is PromotionState.UNKNOWN and sent_wall is not None and error.sent_at is None:
        error.sent_at = utc_from_unix(sent_wall)
    return state is PromotionState.NOT_SENT

"""What happened to a promotion: the four :class:`PromotionState` values and the pure rules
that map the facts of a failed call to one of them.

Nothing here does I/O. The request loop records *when* an attempt may have reached the API
(:class:`SendMark`, a per-task context variable, so that a fan-out can tell, even after a
cancellation, whether its request left) and asks :func:`state_of` what an error means.
"""

from __future__ import annotations

import contextvars
import enum
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._errors import APIError

__all__ = [
    "PromotionState",
    "SendMark",
    "current_mark",
    "install_mark",
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


class SendMark:
    """Set by the request loop when a write attempt may reach the API: its wall time.

    A fan-out installs one per request (:func:`current_mark`), so that after a cancellation
    it knows whether the request had left (``unknown``, with ``sent_at``) or not
    (``not_sent``).
    """

    __slots__ = ("sent_at",)

    def __init__(self) -> None:
        self.sent_at: datetime | None = None


_MARK: contextvars.ContextVar[SendMark | None] = contextvars.ContextVar(
    "sevalla_async_send_mark", default=None
)


def current_mark() -> SendMark | None:
    """The mark of the running task's promotion, if a fan-out installed one."""
    return _MARK.get()


def install_mark() -> SendMark:
    """A fresh mark for the running task's next promotion."""
    mark = SendMark()
    _MARK.set(mark)
    return mark


def settle_state(error: APIError, sent_wall: float | None, mark: SendMark | None) -> None:
    """Record on ``error`` (raised by a write) the state it leaves the promotion in, and
    ``sent_at`` when that is ``unknown``; a ``not_sent`` error clears ``mark``."""
    state = state_of(error)
    error.promotion_state = state
    if state is PromotionState.UNKNOWN:
        if sent_wall is not None and error.sent_at is None:
            error.sent_at = utc_from_unix(sent_wall)
    elif mark is not None and state is PromotionState.NOT_SENT:
        mark.sent_at = None

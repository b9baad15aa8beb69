"""What happened to a promotion: the four :class:`PromotionState` values.

Nothing here does I/O and nothing here imports another module of the package: the rules
that map an error to a state live in :mod:`._promote_outcome`, above the errors.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

__all__ = ["PromotionState", "utc_from_unix"]


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


def utc_from_unix(seconds: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)

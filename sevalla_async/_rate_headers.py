"""The rate-limit headers of a reply, read without I/O: the ``x-ratelimit-*`` budget
(:func:`parse_rate_limit`) and how long to wait before trying again
(:func:`parse_retry_after`). The caller passes ``now`` (default: the system clock, only for
an absolute time).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime

import attrs

__all__ = ["RateLimitInfo", "parse_rate_limit", "parse_retry_after"]


@attrs.frozen(slots=True)
class RateLimitInfo:
    """The ``x-ratelimit-*`` headers of one reply (reset in seconds from now)."""

    limit: int | None
    remaining: int
    reset: float


# ASCII digits only: float() and int() would also take "1_000", "+5", "1e3", "inf" and
# non-ASCII (full-width) digits, none of which a header may carry. Surrounding blanks are allowed
# (optional whitespace around a field value).
_DECIMAL = re.compile(r"[ \t]*([0-9]{1,15}(?:\.[0-9]{1,9})?)[ \t]*", re.ASCII)


def _ascii_number_or_none(text: str | None, pattern: re.Pattern[str] = _DECIMAL) -> float | None:
    if text is None:
        return None
    match = pattern.fullmatch(text)
    return float(match.group(1)) if match else None


_EPOCH_FROM = 1_000_000_000.0  # 2001-09-09: a reset this large is a Unix time, not seconds


def parse_rate_limit(
    headers: Mapping[str, str], *, now: float | None = None
) -> RateLimitInfo | None:
    """The reply's rate-limit budget, or ``None`` when it does not carry a usable one.

    ``x-ratelimit-reset`` is seconds until the window resets; a value of 1,000,000,000 or
    more cannot be that (31 years) and is read as the Unix time of the reset instead
    (``now``: the current Unix time, default the system clock), a past one as 0. How long
    the client then actually holds is bounded by ``max_rate_limit_wait`` (the limiter).
    """
    remaining = _ascii_number_or_none(headers.get("x-ratelimit-remaining"))
    reset = _ascii_number_or_none(headers.get("x-ratelimit-reset"))
    if remaining is None or reset is None:
        return None
    if reset >= _EPOCH_FROM:
        reset = max(0.0, reset - (time.time() if now is None else now))
    limit = _ascii_number_or_none(headers.get("x-ratelimit-limit"))
    return RateLimitInfo(
        limit=int(limit) if limit is not None else None, remaining=int(remaining), reset=reset
    )


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait before trying again, from ``Retry-After`` (seconds or an HTTP date),
    else ``x-ratelimit-reset`` (seconds); ``None`` when neither says.

    ``now`` is the current Unix time, needed only for the HTTP-date form (default: the
    system clock).
    """
    value = headers.get("retry-after")
    if value is not None:
        seconds = _ascii_number_or_none(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            current = time.time() if now is None else now
            return max(0.0, when.timestamp() - current)
    return _ascii_number_or_none(headers.get("x-ratelimit-reset"))

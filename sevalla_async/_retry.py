"""When to try a failed call again, and after how long (pure: no I/O, no sleeping).

The policy, for one failed attempt:

====================================================  =========  ===================
what happened                                          GET        POST
====================================================  =========  ===================
429 Too Many Requests                                  retry      retry (not acted on)
nothing was sent (refused, DNS, TLS, connect timeout)  retry      retry
5xx reply                                              retry      raise
timeout or connection lost after sending               retry      raise
any other status                                       raise      raise
====================================================  =========  ===================

A 429 waits what the server asks (``Retry-After``, else ``x-ratelimit-reset``); a wait over
``max_rate_limit_wait`` (when set) raises at once, and so does one that would end after the
call's timeout (the client checks that: the timeout is the only bound by default). Every
other retry waits an exponential backoff with full jitter, whose schedule comes from the
``backoff`` package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import backoff

from ._errors import (
    APIConnectionError,
    APIError,
    ClientClosedError,
    InternalServerError,
    RateLimitError,
)

__all__ = ["RetryPolicy"]


@attrs.frozen(slots=True)
class RetryPolicy:
    """Decides, for one failed attempt, whether to retry and how long to wait first.

    Attributes:
        max_retries: retries after the first attempt (``0`` disables retrying).
        max_rate_limit_wait: the longest rate-limit wait accepted (a 429's
            ``Retry-After``, or the client's own hold until the budget resets); a longer
            one raises at once. ``None`` (the default): no bound of its own, the call's
            ``timeout`` decides (a wait that would end after it raises at once).
        backoff_initial: the first backoff wait in seconds, before jitter.
        backoff_max: the cap of one backoff wait, before jitter.
        jitter: maps a wait to the wait actually used (default: full jitter).
    """

    max_retries: int = attrs.field(default=3)
    max_rate_limit_wait: float | None = attrs.field(default=None)
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: Callable[[float], float] = attrs.field(default=backoff.full_jitter, repr=False)

    @max_retries.validator
    def _check(self, _: object, value: int) -> None:
        if type(value) is not int or value < 0:
            raise ValueError(f"max_retries: must be an integer >= 0, got {value!r}")

    @max_rate_limit_wait.validator
    def _check_wait(self, _: object, value: float | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
        ):
            raise ValueError(
                f"max_rate_limit_wait: must be a number of seconds >= 0 or None, got {value!r}"
            )

    def schedule(self) -> Iterator[float]:
        """A fresh backoff schedule for one call: initial, 2x, 4x ... capped, with jitter."""
        waits = backoff.expo(base=2, factor=self.backoff_initial, max_value=self.backoff_max)
        next(waits)  # backoff's generators must be primed (the first yield is None)
        return (self.jitter(w) for w in waits)

    def decide(
        self, error: APIError, *, idempotent: bool, retries_done: int, schedule: Iterator[float]
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or ``None`` to raise it."""
        if retries_done >= self.max_retries or not self.retryable(error, idempotent=idempotent):
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            cap = self.max_rate_limit_wait
            if cap is not None and error.retry_after > cap:
                return None
            return error.retry_after
        return next(schedule)

    @staticmethod
    def retryable(error: APIError, *, idempotent: bool) -> bool:
        """Whether ``error`` may be retried at all (the table above)."""
        if isinstance(error, RateLimitError):
            return True
        if isinstance(error, ClientClosedError):
            return False  # closed on purpose: another attempt cannot succeed
        if isinstance(error, APIConnectionError):
            return idempotent or not error.request_sent
        if isinstance(error, InternalServerError):
            return idempotent
        return False

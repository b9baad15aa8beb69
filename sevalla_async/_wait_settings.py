"""The options of a wait, checked once: :class:`WaitOptions` (public: how a wait polls,
besides ``timeout`` and ``poll_interval``) and :class:`PollSettings` (private: every option of
one wait, checked by :meth:`PollSettings.check` at the public edge and passed down as is).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import attrs

__all__ = [
    "DEFAULT_BUDGET_SHARE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_CONCURRENCY",
    "PollSettings",
    "WaitOptions",
    "check_timeout",
]

DEFAULT_TIMEOUT = 15 * 60.0
"""Seconds a wait gives the deployments to finish."""

DEFAULT_POLL_INTERVAL = 1.0
"""The shortest time between two polls of one deployment (the floor), in seconds."""

DEFAULT_WAIT_CONCURRENCY = 50
"""Deployments polled at once by ``wait_all``."""

DEFAULT_BUDGET_SHARE = 0.5
"""The share of the read budget that all polls of one client may spend together."""


def _finite_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return float(value)


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` as seconds (``None``: no deadline); ValueError unless positive."""
    if timeout is None:
        return None
    seconds = _finite_number("timeout", timeout)
    if seconds <= 0:
        raise ValueError(f"timeout: must be a positive number of seconds, got {timeout!r}")
    return seconds


def _check_max(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and _finite_number(attribute.name, value) <= 0:
        raise ValueError(f"{attribute.name}: must be > 0 seconds or None, got {value!r}")


def _check_factor(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if _finite_number(attribute.name, value) < 1:
        raise ValueError(f"{attribute.name}: must be >= 1, got {value!r}")


def _check_jitter(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 <= _finite_number(attribute.name, value) < 1:
        raise ValueError(f"{attribute.name}: must be from 0 to below 1, got {value!r}")


def _check_share(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 < _finite_number(attribute.name, value) <= 1:
        raise ValueError(f"{attribute.name}: must be above 0 and at most 1, got {value!r}")


@attrs.frozen(kw_only=True)
class WaitOptions:
    """How a wait polls, besides its ``timeout`` and ``poll_interval`` (the floor).

    The interval after a deployment's k-th poll is the longer of
    ``poll_interval * poll_factor ** k`` (capped at ``max_poll_interval``) and the fair
    share of the read budget (``60 * active waits / polls a minute``), spread by
    +/- ``poll_jitter``, and never shorter than ``poll_interval``.

    Attributes:
        budget_share: the share (0 to 1] of the read budget that all polls of the client
            may spend together (default 0.5: 200 of the API's 400 reads a minute, leaving
            the rest for your own reads).
        poll_factor: growth of the interval from one poll to the next (default 1: none).
        max_poll_interval: cap of that growth, seconds (default ``None``: no cap; the
            budget's fair share may still be longer).
        poll_jitter: random spread of each interval, a fraction from 0 to < 1 (0.1).
    """

    budget_share: float = attrs.field(default=DEFAULT_BUDGET_SHARE, validator=_check_share)
    poll_factor: float = attrs.field(default=1.0, validator=_check_factor)
    max_poll_interval: float | None = attrs.field(default=None, validator=_check_max)
    poll_jitter: float = attrs.field(default=0.1, validator=_check_jitter)


def _merged(options: WaitOptions | None, **fields: float | None) -> WaitOptions:
    """``options`` with the fields given (not ``None``) laid over it."""
    if options is None:
        options = WaitOptions()
    elif not isinstance(options, WaitOptions):
        raise ValueError(f"options: expected a WaitOptions, got {type(options).__name__}")
    changes = {name: value for name, value in fields.items() if value is not None}
    return attrs.evolve(options, **changes) if changes else options


@attrs.frozen
class PollSettings:
    """Checked options of one wait (built once, passed down unchecked): the floor, the
    :class:`WaitOptions`, the concurrency, the timeout."""

    poll_interval: float
    options: WaitOptions
    concurrency: int = DEFAULT_WAIT_CONCURRENCY
    timeout: float | None = DEFAULT_TIMEOUT

    @classmethod
    def check(
        cls,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        options: WaitOptions | None = None,
        concurrency: int = DEFAULT_WAIT_CONCURRENCY,
        max_poll_interval: float | None = None,
        poll_factor: float | None = None,
        poll_jitter: float | None = None,
    ) -> PollSettings:
        """Check every option (``ValueError`` naming the first bad one), before any I/O."""
        floor = _finite_number("poll_interval", poll_interval)
        if floor <= 0:
            raise ValueError(f"poll_interval: must be > 0 seconds, got {poll_interval!r}")
        merged = _merged(
            options,
            max_poll_interval=max_poll_interval,
            poll_factor=poll_factor,
            poll_jitter=poll_jitter,
        )
        if merged.max_poll_interval is not None and merged.max_poll_interval < floor:
            raise ValueError(
                f"max_poll_interval: must be >= poll_interval ({poll_interval!r}), "
                f"got {merged.max_poll_interval!r}"
            )
        if type(concurrency) is not int or concurrency < 1:
            raise ValueError(f"concurrency: must be an integer >= 1, got {concurrency!r}")
        return cls(floor, merged, concurrency, check_timeout(timeout))

    def growth(self) -> Iterator[float]:
        """The intervals of the growth schedule, before the budget's share and jitter."""
        base = self.poll_interval
        cap = self.options.max_poll_interval
        while True:
            yield base
            base *= self.options.poll_factor
            if cap is not None:
                base = min(base, cap)

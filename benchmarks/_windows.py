"""Counting requests in rate-limit windows, for the benchmarks that report reads against
the API's read budget."""

from __future__ import annotations

from collections.abc import Sequence


def busiest_minute(times: Sequence[float]) -> int:
    """The most of ``times`` (seconds) in any 60 s window starting at one of them (one 60 s
    after another, but for float error, falls in the next window)."""
    ordered = sorted(times)
    best, low = 0, 0
    for high, t in enumerate(ordered):
        while ordered[low] <= t - 60 + 1e-6:
            low += 1
        best = max(best, high - low + 1)
    return best

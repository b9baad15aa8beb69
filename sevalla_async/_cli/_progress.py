"""The live progress line of ``promote-many`` on a terminal's stderr.

``progress_text`` is pure (tested with plain numbers); :class:`ProgressLine` redraws it in
place with ``\\r``, at most every ``min_interval`` seconds, and steps aside while a result
line is printed so the two never mix.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressLine", "format_duration", "progress_text"]


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def progress_text(done: int, failed: int, total: int, elapsed: float) -> str:
    """``12/40 done, 1 failed, 6.0/s, ETA 5s`` (``done`` counts failures too)."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if done >= total:
        eta = "done"
    elif rate > 0:
        eta = f"ETA {format_duration((total - done) / rate)}"
    else:
        eta = "ETA ?"
    return f"{done}/{total} done, {failed} failed, {rate:.1f}/s, {eta}"


class ProgressLine:
    """A status line kept at the bottom of a terminal (when disabled it does nothing).

    Args:
        stream: where the line is drawn (stderr).
        total: how many items there are.
        enabled: draw at all (the CLI enables it when stderr is a terminal).
        shares_terminal: results are printed to the same terminal (stdout is a tty too),
            so the line is erased before each result and drawn again after it.
    """

    def __init__(
        self,
        stream: TextIO,
        total: int,
        *,
        enabled: bool,
        shares_terminal: bool = False,
        clock: Callable[[], float] = time.monotonic,
        min_interval: float = 0.1,
    ) -> None:
        self._stream = stream
        self._total = total
        self._enabled = enabled
        self._shares_terminal = shares_terminal
        self._clock = clock
        self._min_interval = min_interval
        self._start = clock()
        self._last_draw: float | None = None
        self._drawn: tuple[int, int] | None = None
        self._shown = False
        self.done = 0
        self.failed = 0

    def advance(self, *, ok: bool, write: Callable[[], None] | None = None) -> None:
        """Count one more finished item; ``write()`` prints its result line first."""
        self.done += 1
        if not ok:
            self.failed += 1
        redraw = False
        if write is not None:
            if self._shown and self._shares_terminal:
                self.clear()
                redraw = True
            write()
        self.draw(force=redraw or self.done >= self._total)

    def draw(self, *, force: bool = False) -> None:
        """Draw the line now (or skip it if drawn less than ``min_interval`` ago)."""
        if not self._enabled:
            return
        now = self._clock()
        if not force and self._last_draw is not None and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        self._drawn = (self.done, self.failed)
        text = progress_text(self.done, self.failed, self._total, now - self._start)
        self._stream.write(f"\r\x1b[2K{text}")
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line (before something else is printed on the terminal)."""
        if self._enabled and self._shown:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._shown = False

    def finish(self) -> None:
        """Leave the final state on its own line."""
        if self._enabled:
            if not (self._shown and self._drawn == (self.done, self.failed)):
                self.draw(force=True)
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False

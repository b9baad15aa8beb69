"""Text from the server made safe for a log line (pure)."""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidi
# overrides and isolates: anything that could end a log line, drive a terminal or reorder
# what it shows.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control and bidi character written as an escape (``\\n``,
    ``\\x1b``, ``\\u202e``...), so a server message cannot forge log lines, drive the
    reader's terminal or reorder what it shows."""
    return _UNSAFE.sub(lambda m: repr(m.group())[1:-1], text)

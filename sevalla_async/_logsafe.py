"""Text from the server made safe for a log line (pure)."""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: anything that
# could end a log line or drive a terminal.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``...),
    so a server message cannot forge log lines or drive the reader's terminal."""
    return _UNSAFE.sub(lambda m: repr(m.group())[1:-1], text)

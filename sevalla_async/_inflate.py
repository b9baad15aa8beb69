"""Reply bodies decoded while they stream, with the size cap on the decoded bytes (pure).

aiohttp's own decompression inflates each network chunk whole before anyone can count it,
so a small gzip body can expand to hundreds of MiB first. The transport reads the raw
bytes instead and feeds them here: :meth:`BodyDecoder.feed` never produces more than the
cap allows, so a decompression bomb costs about ``max_response_size`` of memory at most.
"""

from __future__ import annotations

import zlib

__all__ = ["ACCEPT_ENCODING", "BodyDecoder", "BodyTooLargeError", "UndecodableBodyError"]

ACCEPT_ENCODING = "gzip, deflate"
"""The encodings the client asks for (and the only ones it decodes)."""


class BodyTooLargeError(Exception):
    """The decoded body exceeds the cap."""


class UndecodableBodyError(Exception):
    """The body does not decode with its ``Content-Encoding``."""


class BodyDecoder:
    """Decodes one body of the given ``Content-Encoding``, refusing more than ``cap`` bytes."""

    __slots__ = ("_cap", "_chunks", "_fed", "_size", "_zlib")

    def __init__(self, encoding: str | None, cap: int) -> None:
        self._cap = cap
        self._chunks: list[bytes] = []
        self._size = 0
        self._fed = False
        coding = (encoding or "").strip().lower()
        if coding in ("", "identity"):
            self._zlib = None
        elif coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise UndecodableBodyError(f"unsupported Content-Encoding {coding[:40]!r}")

    def feed(self, data: bytes) -> None:
        """Add raw bytes; raise :class:`BodyTooLargeError` as soon as the decoded size passes
        the cap, or :class:`UndecodableBodyError`."""
        if self._zlib is None:
            self._add(data)
            return
        self._fed = self._fed or bool(data)
        while data:
            room = self._cap - self._size + 1  # one byte more than allowed tells "too large"
            try:
                out = self._zlib.decompress(data, room)
            except zlib.error as exc:
                raise UndecodableBodyError(f"the body does not decode: {exc}") from None
            self._add(out)
            data = self._zlib.unconsumed_tail
            if not out and data:  # pragma: no cover - zlib always progresses with room > 0
                break

    def finish(self) -> bytes:
        """The whole decoded body; raise :class:`UndecodableBodyError` if it was cut short."""
        if self._zlib is not None:
            self._add(self._zlib.flush())
            if self._fed and not self._zlib.eof:
                raise UndecodableBodyError("the compressed body ends before its end marker")
        return b"".join(self._chunks)

    def _add(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self._cap:
            self._chunks.clear()
            raise BodyTooLargeError
        self._chunks.append(data)

"""The API key: held where no ``repr``, ``str``, log line or traceback rendered with its
locals can show it, and redacted from whatever a server sends back.

- :class:`Secret` holds the key; its ``repr``/``str`` are ``'[redacted]'`` and the value
  sits in a closure, not in an attribute: read it with :meth:`Secret.reveal`.
- :class:`AuthorizedHeaders` is what a :class:`~sevalla_async.TransportRequest` carries as
  ``headers``: a read-only mapping whose ``Authorization`` value is built from the secret
  only when a transport reads it, as a :class:`HiddenStr` (a ``str`` whose ``repr`` hides
  it), so a dict of headers made from it still shows ``'[redacted]'`` in a traceback.
- :meth:`Secret.redact` / :meth:`Secret.redact_reply` replace the key in text a server
  sent (a gateway that echoes the ``Authorization`` header into its error page).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import APIError
from ._wire import Headers

if TYPE_CHECKING:
    from ._wire import Transport, TransportRequest, TransportResponse

__all__ = ["REDACTED", "AuthorizedHeaders", "HiddenStr", "RedactingTransport", "Secret"]

REDACTED = "[redacted]"

# A key this short is a test key: replacing so short a string in every reply would corrupt
# ids and field names, and hides nothing worth hiding.
MIN_REDACTED_LENGTH = 12

# A JSON ``\\uXXXX`` escape (not itself an escaped backslash): a server can spell the key
# with them, so the bytes never show it while the decoded text does.
_JSON_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def _unescaped(body: bytes) -> bytes:
    """``body`` with each JSON ``\\uXXXX`` escape of a character that may stand bare in a
    JSON string (not a control, quote, backslash or surrogate) written as its UTF-8 bytes:
    the same JSON value, in which an escaped key shows as bytes."""

    def one(match: re.Match[bytes]) -> bytes:
        code = int(match.group(2), 16)
        if code < 0x20 or code in (0x22, 0x5C) or 0xD800 <= code <= 0xDFFF:
            return match.group()
        return match.group(1) + chr(code).encode()

    return _JSON_ESCAPE.sub(one, body)


class HiddenStr(str):
    """A ``str`` whose ``repr`` is ``'[redacted]'``; ``str()``, comparison and
    concatenation see the real value (what an HTTP library writes to the wire)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(REDACTED)


class Secret:
    """The API key. ``repr``/``str`` never show it; :meth:`reveal` returns it.

    The value is kept in closures rather than attributes, so neither a traceback rendered
    with locals nor a walk over attributes (``__dict__``/``__slots__``) reaches it.
    """

    __slots__ = ("_bearer", "_bytes", "_text")

    _text: Callable[[], str]
    _bytes: Callable[[], bytes | None]
    _bearer: Callable[[], HiddenStr]

    def __init__(self, value: str) -> None:
        # Shorter keys are not redacted from replies (see MIN_REDACTED_LENGTH).
        needle = value.encode() if len(value) >= MIN_REDACTED_LENGTH else None
        # One header value for every request: instances of a str subclass are tracked by
        # the garbage collector, one a request would make its collections slower.
        header = HiddenStr("Bearer " + value)

        def text() -> str:
            return value

        def data() -> bytes | None:
            return needle

        def bearer() -> HiddenStr:
            return header

        self._text = text
        self._bytes = data
        self._bearer = bearer

    def reveal(self) -> str:
        """The key itself: use it at the last moment, never keep it in a variable."""
        return self._text()

    def bearer(self) -> HiddenStr:
        """The ``Authorization`` header value, ``Bearer <key>``, as a :class:`HiddenStr`."""
        return self._bearer()

    def __repr__(self) -> str:
        return repr(REDACTED)

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("an API key is not pickled")

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by ``[redacted]``."""
        if self._bytes() is not None and self._text() in text:
            return text.replace(self._text(), REDACTED)
        return text

    def redact_reply(self, response: TransportResponse) -> TransportResponse:
        """``response`` with the key redacted from its body and header values: the one
        place a reply enters the SDK, before anything decodes or keeps it. The reply
        itself when it does not quote the key (the usual case: no copy)."""
        needle = self._bytes()
        if needle is None:
            return response
        body = response.body
        if b"\\u" in body:
            plain = _unescaped(body)
            body = plain if needle in plain else body
        echoed = needle in body
        headers = response.headers
        quoted = any(self._text() in k or self._text() in v for k, v in headers.items())
        if not echoed and not quoted:
            return response
        if echoed:
            body = body.replace(needle, REDACTED.encode())
        if quoted:
            headers = _redacted_headers(headers, self)
        return attrs.evolve(response, headers=headers, body=body)

    def redact_error(self, error: APIError) -> None:
        """Redact the key, in place, from an error a transport raised: its message, the
        reply fields it may carry, and its cause (replaced by a plain stand-in with the
        redacted text when any exception of the chain quotes the key)."""
        if self._bytes() is None:
            return
        message = self.redact(error.message)
        if message != error.message:
            error.message = message
            error.args = (message,)
        for name in ("request_id", "detail", "code"):
            value = getattr(error, name, None)
            if isinstance(value, str):
                setattr(error, name, self.redact(value))
        headers = getattr(error, "headers", None)
        if isinstance(headers, Mapping) and any(
            self._text() in k or self._text() in v
            for k, v in headers.items()
            if isinstance(k, str) and isinstance(v, str)
        ):
            error.headers = _redacted_headers(headers, self)  # type: ignore[attr-defined]
        body = getattr(error, "body", None)
        if isinstance(body, str):
            error.body = self.redact(body)  # type: ignore[attr-defined]
        cause = error.__cause__ or error.__context__
        if cause is not None and _quotes(cause, self._text()):
            error.__cause__ = RedactedCauseError(self.redact(f"{type(cause).__name__}: {cause}"))
            error.__context__ = None


class RedactedCauseError(Exception):
    """Stands in for the cause of an error whose text quoted the API key (redacted)."""


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and each exception behind it (its ``__cause__``, else its ``__context__``),
    every one once even when the chain loops."""
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        yield item
        item = item.__cause__ or item.__context__


def _quotes(exc: BaseException, key: str) -> bool:
    """Whether the text of ``exc`` or of anything in its chain contains ``key``."""
    for item in exception_chain(exc):
        with contextlib.suppress(Exception):  # what cannot show itself shows nothing
            if key in str(item) or key in repr(item):
                return True
    return False


def _redacted_headers(headers: Mapping[str, str], secret: Secret) -> Mapping[str, str]:
    return Headers((secret.redact(k), secret.redact(v)) for k, v in headers.items())


class RedactingTransport:
    """Wraps the client's :class:`~sevalla_async.Transport`: every reply, and every error
    the transport raises, has the key redacted before the SDK decodes, logs or keeps any
    of it (the one place server-provided text enters the SDK)."""

    __slots__ = ("_secret", "inner")

    def __init__(self, inner: Transport, secret: Secret) -> None:
        self.inner = inner
        self._secret = secret

    async def send(self, request: TransportRequest) -> TransportResponse:
        """The inner transport's reply (or error), redacted."""
        try:
            response = await self.inner.send(request)
        except APIError as exc:
            self._secret.redact_error(exc)
            raise
        return self._secret.redact_reply(response)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


class AuthorizedHeaders(Mapping[str, str]):
    """Request headers plus ``Authorization: Bearer <key>``, built from the
    :class:`Secret` each time it is read (a :class:`HiddenStr`); the ``repr`` shows
    ``'[redacted]'``. Read-only; :meth:`plus` gives one with more headers."""

    __slots__ = ("_plain", "_secret")

    def __init__(self, plain: Mapping[str, str], secret: Secret) -> None:
        self._plain = dict(plain)
        self._secret = secret

    def plus(self, extra: Mapping[str, str] | None) -> AuthorizedHeaders:
        """These headers and ``extra`` (which wins)."""
        if not extra:
            return self
        return AuthorizedHeaders({**self._plain, **extra}, self._secret)

    def build(self, extra: Mapping[str, str]) -> dict[str, str]:
        """A plain dict of every header and ``extra``, for the HTTP library: the
        ``Authorization`` value is a :class:`HiddenStr`."""
        return {**self._plain, "Authorization": self._secret.bearer(), **extra}

    def __getitem__(self, name: str) -> str:
        if name.lower() == "authorization":
            return self._secret.bearer()
        return self._plain[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._plain
        yield "Authorization"

    def __len__(self) -> int:
        return len(self._plain) + 1

    def __repr__(self) -> str:
        return repr({**self._plain, "Authorization": HiddenStr()})

"""The wire types: what a :class:`Transport` is given and gives back, without I/O.

:class:`TransportRequest` (one attempt to send), :class:`TransportResponse` (one reply: status,
headers, body, request id) and the :class:`Transport` interface live here, apart from
the aiohttp transport (:mod:`._transport`, which re-exports them), so that the pure
protocol can read a reply without importing aiohttp. :class:`Headers` is a read-only,
case-insensitive mapping of reply headers that needs no third-party package: the
protocol reads headers through the plain ``Mapping`` interface only, so aiohttp's
``CIMultiDictProxy``, this class, or any case-insensitive mapping a custom transport
returns all serve.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Headers", "Transport", "TransportRequest", "TransportResponse"]


@attrs.frozen(slots=True)
class TransportRequest:
    """One attempt to send: everything a :class:`Transport` needs, nothing it must decide.

    Attributes:
        method: the HTTP method (``"GET"``, ``"POST"``).
        url: the full URL, query string included, already encoded.
        headers: the request headers (authorization, user agent, content type...). For
            a request the client makes, a read-only mapping that builds the
            ``Authorization`` value from the API key each time it is read, as a ``str``
            whose ``repr`` is ``'[redacted]'``; its own ``repr`` hides the key too. Read
            it as late as you can (:func:`wire_headers` gives a plain dict to hand to the
            HTTP library), and keep no copy: a traceback rendered with locals shows
            every variable.
        body: the request body, or ``None`` for none.
        timeout: seconds this attempt may take, connecting and reading included
            (``None``: no limit from the caller).
        max_response_size: the largest reply body to accept, in bytes.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    timeout: float | None
    max_response_size: int


@attrs.frozen(slots=True)
class TransportResponse:
    """One HTTP reply: status, headers (a case-insensitive mapping) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def request_id(self) -> str | None:
        """The API's ``x-request-id`` for this reply (quote it to support)."""
        return self.headers.get("x-request-id")


@runtime_checkable
class Transport(Protocol):
    """Sends one HTTP attempt; the client does everything else (auth headers, retries,
    rate limits, decoding). Pass one as ``SevallaClient(transport=...)``.

    ``send(request)`` must:

    - send exactly one attempt of ``request``, with all of ``request.headers``
      (``Authorization`` included: see :class:`TransportRequest`), and never follow
      redirects (a 3xx is a reply like any other);
    - read the whole reply body, but refuse one larger than ``request.max_response_size``
      bytes by raising :class:`APIResponseValidationError` (with the status and headers);
    - give up after ``request.timeout`` seconds (when not ``None``) by raising
      :class:`APITimeoutError`;
    - raise :class:`APIConnectionError` with ``request_sent=False`` only when the request
      certainly did not leave (connection refused, DNS, TLS handshake, connect timeout:
      the client may then retry even a POST), and :class:`APIConnectionError` or
      :class:`APITimeoutError` with ``request_sent=True`` (the default) for any failure
      after that point;
    - let ``asyncio.CancelledError`` pass through, releasing whatever it holds.

    Any status is returned as a :class:`TransportResponse`, never raised: mapping statuses
    to errors is the client's job, as is redacting the API key from whatever the server
    sends back (a reply, or the text of an error the transport raises). ``aclose()``
    releases the transport's resources; the client calls it from its own ``aclose()``,
    also for a transport it was given (as httpx does): a transport belongs to one client.
    A ``send`` after ``aclose()`` (or one still queued for a connection when it runs)
    raises :class:`APIConnectionError` with ``request_sent=False``.
    """

    async def send(self, request: TransportRequest) -> TransportResponse:
        """Send one attempt and return the whole reply (see the class docstring)."""
        ...

    async def aclose(self) -> None:
        """Release the transport's connections; sending afterwards is an error."""
        ...


class Headers(Mapping[str, str]):
    """Read-only reply headers, looked up without regard to case: ``headers["X-Request-Id"]``
    and ``headers["x-request-id"]`` are the same header. A name sent more than once keeps
    every value, in order (:meth:`getall`); a lookup gives the first."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._pairs = tuple((str(k), str(v)) for k, v in items)
        first: dict[str, str] = {}
        for key, value in self._pairs:
            first.setdefault(key.lower(), value)
        self._first = first

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> ItemsView[str, str]:
        """Every ``(name, value)`` pair, repeated names included."""
        return _Items(self)

    def values(self) -> ValuesView[str]:
        """Every value, those of repeated names included."""
        return _Values(self)

    def getall(self, name: str) -> list[str]:
        """Every value of ``name``, in the order received."""
        wanted = name.lower()
        return [v for k, v in self._pairs if k.lower() == wanted]

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"


class _Items(ItemsView[str, str]):
    _mapping: Headers

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping._pairs)


class _Values(ValuesView[str]):
    _mapping: Headers

    def __iter__(self) -> Iterator[str]:
        return (v for _, v in self._mapping._pairs)

"""The fake served in memory: a :class:`~sevalla_async.Transport` that hands each request
to the fake's dispatcher, with no socket, from any event loop or thread. Its
:data:`BASE_URL` (``fake://sevalla/v3``) becomes the client's, so an error says the fake
answered, never the production API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy

from .._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    ClientClosedError,
)
from .._transport import TransportRequest, TransportResponse, wire_headers
from ._http import Dispatch, Dropped, Incoming

__all__ = ["BASE_URL", "MemoryTransport"]

BASE_URL = "fake://sevalla/v3"
"""Where the in-memory fake is served: the base URL of a client on its transport (unless
the client is given another), and so the URL its errors and events name."""

_NONE: dict[str, str] = {}


class MemoryTransport:
    """Made by :meth:`FakeSevalla.transport`; see there."""

    def __init__(self, dispatch: Dispatch, sleep: Callable[[float], Awaitable[Any]]) -> None:
        self._dispatch = dispatch
        self._sleep = sleep
        self._closed = False

    @property
    def base_url(self) -> str:
        """:data:`BASE_URL`: the client takes it as its own base URL unless given one."""
        return BASE_URL

    @property
    def pool_limit(self) -> int | None:
        """No connection pool: ``None``."""
        return None

    async def aclose(self) -> None:
        """Refuse further requests (the fake itself stays usable)."""
        self._closed = True

    async def send(self, request: TransportRequest) -> TransportResponse:
        """Answer ``request`` from the fake, following :class:`Transport`'s contract."""
        if self._closed:
            raise ClientClosedError(
                "the client is closed", request_sent=False, method=request.method, url=request.url
            )
        parts = urlsplit(request.url)
        # The Authorization header is built here, from the key the request holds.
        headers = CIMultiDictProxy(CIMultiDict(wire_headers(request.headers, _NONE)))

        async def wait(seconds: float) -> None:
            timeout = request.timeout
            if timeout is not None and seconds >= timeout:
                await self._sleep(timeout)
                raise APITimeoutError(
                    "no reply from the in-memory FakeSevalla within the timeout",
                    method=request.method,
                    url=request.url,
                )
            await self._sleep(seconds)

        incoming = Incoming(
            request.method,
            unquote(parts.path),
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers,
            request.body or b"",
        )
        reply = await self._dispatch(incoming, wait=wait)
        if isinstance(reply, Dropped):
            raise APIConnectionError(
                "connection failed: the in-memory FakeSevalla closed the connection without "
                "replying",
                method=request.method,
                url=request.url,
            )
        reply_headers = CIMultiDictProxy(CIMultiDict(reply.headers))
        if len(reply.body) > request.max_response_size:
            raise APIResponseValidationError(
                "the in-memory FakeSevalla's reply body exceeds max_response_size "
                f"({request.max_response_size} bytes); refused",
                status_code=reply.status,
                request_id=reply_headers.get("x-request-id"),
                headers=reply_headers,
                body=None,
                method=request.method,
                url=request.url,
            )
        return TransportResponse(reply.status, reply_headers, reply.body)

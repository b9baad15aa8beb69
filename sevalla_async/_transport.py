"""The transport seam: one attempt in, one :class:`TransportResponse` out.

:class:`Transport` is the interface the client sends through; :class:`AiohttpTransport` is
the default, and the only module that talks to aiohttp. It owns the
:class:`aiohttp.ClientSession` (or borrows the caller's), never follows redirects, caps the
size of reply bodies, and turns aiohttp's exceptions into :class:`APIConnectionError` /
:class:`APITimeoutError`, telling whether the request can have reached the server.
``asyncio.CancelledError`` passes through untouched; the ``async with`` around the reply
releases the connection whatever happens.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import Mapping

import aiohttp
from yarl import URL

from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    ClientClosedError,
)
from ._inflate import ACCEPT_ENCODING, BodyDecoder, BodyTooLargeError, UndecodableBodyError
from ._proxy import ProxyInfo, env_proxy, is_loopback
from ._secret import AuthorizedHeaders, exception_chain
from ._wire import Transport, TransportRequest, TransportResponse

__all__ = [
    "AiohttpTransport",
    "Transport",
    "TransportRequest",
    "TransportResponse",
    "is_loopback",
    "wire_headers",
]


# Raised while connecting: the request was certainly not sent.
_NOT_SENT = (
    aiohttp.ClientConnectorError,  # refused, DNS (ClientConnectorDNSError), TLS handshake
    aiohttp.ConnectionTimeoutError,  # connect / sock_connect timeout
    aiohttp.ClientProxyConnectionError,
)


class AiohttpTransport:
    """The default :class:`Transport`: aiohttp, with a pool of keep-alive connections.

    Args:
        session: an :class:`aiohttp.ClientSession` you own; the transport uses it and never
            closes it. Without it one is created on first use (in the running loop) and
            closed by :meth:`aclose`.
        connection_limit: the size of the owned session's connection pool (default 100).
        ssl: an :class:`ssl.SSLContext` for custom CAs or client certificates (``False``
            disables verification; don't). Default: verify against the system store.
        proxy: an explicit proxy URL; by default ``HTTPS_PROXY`` & co. are honoured.
        trust_env: read proxy settings (``HTTP(S)_PROXY``, ``NO_PROXY``, and ``~/.netrc``
            for the proxy's credentials) from the environment, once per origin (owned
            session only).
        timeout: an :class:`aiohttp.ClientTimeout` for attempts whose request carries no
            ``timeout`` of its own.
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        connection_limit: int = 100,
        ssl: _ssl.SSLContext | bool | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> None:
        if type(connection_limit) is not int or connection_limit < 1:
            raise ValueError(f"connection_limit: must be an integer >= 1, got {connection_limit!r}")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ValueError("session: expected an aiohttp.ClientSession")
        if timeout is not None and not isinstance(timeout, aiohttp.ClientTimeout):
            raise ValueError("timeout: expected an aiohttp.ClientTimeout")
        self._timeout = timeout or _NO_TIMEOUT
        self._session = session
        self._owns_session = session is None
        self._connection_limit = connection_limit
        self._ssl = ssl
        self._trust_env = trust_env
        self._proxy = URL(proxy) if proxy is not None else None
        # The proxy of each origin, worked out once (see _route).
        self._routes: dict[tuple[str, str | None, int | None], ProxyInfo] = {}
        self._ssl_arg: _ssl.SSLContext | bool = ssl if ssl is not None else True
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the session serves

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session in use; an owned one is created on first use, in the running loop."""
        if self._session is None:
            if self._closed:
                raise RuntimeError("the client is closed")
            # ssl=None keeps aiohttp's default: verify certificates.
            connector = aiohttp.TCPConnector(limit=self._connection_limit, ssl=self._ssl_arg)
            # aiohttp's trust_env costs two thread-pool round trips on every request (the
            # proxy variables and ~/.netrc) and would take API-host credentials from
            # ~/.netrc, which clash with the bearer token. The transport reads the proxy
            # variables itself, once per origin, and hands aiohttp an explicit proxy.
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, auto_decompress=True
            )
        return self._session

    async def _route(self, url: URL) -> ProxyInfo:
        """The proxy (and its credentials) for ``url``'s origin, worked out once per origin:
        none for loopback, else the explicit one, else (owned session) the environment's."""
        key = (url.scheme, url.host, url.port)
        route = self._routes.get(key)
        if route is None:
            if is_loopback(url.host):
                route = (None, None)  # loopback traffic stays on the machine
            elif self._proxy is None and self._trust_env and self._owns_session:
                route = await asyncio.to_thread(env_proxy, url)
            else:
                route = (self._proxy, None)
            self._routes[key] = route
        return route

    @property
    def pool_limit(self) -> int | None:
        """How many connections the pool may open to the API host (``None``: no limit)."""
        if self._session is None:
            return self._connection_limit if self._owns_session else None
        connector = self._session.connector
        if connector is None:
            return None
        limits = [n for n in (connector.limit, getattr(connector, "limit_per_host", 0)) if n]
        return min(limits) if limits else None

    async def aclose(self) -> None:
        """Close the session if this transport created it; a borrowed one is left open."""
        self._closed = True
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    # --- one session, one event loop ------------------------------------------------
    def _check_loop(self) -> None:
        """Refuse to send from an event loop other than the one the session first served.

        An aiohttp session and its pooled connections belong to one loop; from another
        (typically a second ``asyncio.run()`` after the first loop closed) aiohttp fails
        with a bare ``RuntimeError: Event loop is closed``. This names the cause instead.
        """
        loop = asyncio.get_running_loop()
        if self._loop is None or self._session is None:
            self._loop = loop
        elif self._loop is not loop:
            state = "which is closed" if self._loop.is_closed() else "which is still running"
            raise RuntimeError(
                f"this client's session belongs to another event loop, {state}; create the "
                "client inside the loop that uses it (e.g. in the coroutine you pass to "
                "asyncio.run()), or aclose() it before that loop ends and create a new one"
            )

    # ---------------------------------------------------------------------------------

    async def send(self, request: TransportRequest) -> TransportResponse:
        """Send one attempt and read the whole reply (see :class:`Transport`)."""
        self._check_loop()
        method = request.method
        url = URL(request.url, encoded=True)
        timeout = (
            self._timeout
            if request.timeout is None
            else aiohttp.ClientTimeout(total=max(request.timeout, 0.001))
        )
        proxy, proxy_auth = self._routes.get((url.scheme, url.host, url.port)) or (
            await self._route(url)
        )
        failure: APIConnectionError
        try:
            async with self.session.request(
                method,
                url,
                headers=wire_headers(request.headers, _ACCEPT),
                data=request.body,
                timeout=timeout,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
                ssl=self._ssl_arg,
                auto_decompress=False,  # _read decodes, counting the decoded bytes
            ) as reply:
                data = await self._read(reply, method, url, request.max_response_size)
                return TransportResponse(reply.status, reply.headers, data)
        except asyncio.CancelledError:
            if not self._closed or _being_cancelled():
                raise
            # aclose() cancelled the pool's waiters, not this task: the call was queued.
            failure = ClientClosedError(
                "the client was closed before the request was sent",
                request_sent=False,
                method=method,
                url=str(url),
            )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, TimeoutError) as exc:
            failure = _no_reply(exc, method, str(url))
        except RuntimeError:
            if not self._closed:
                raise
            failure = ClientClosedError(
                "the client is closed", request_sent=False, method=method, url=str(url)
            )
        # Raised here, outside the except blocks, so that aiohttp's exception (whose
        # request_info holds the Authorization header) is not kept as __context__.
        raise failure

    async def _read(self, reply: aiohttp.ClientResponse, method: str, url: URL, cap: int) -> bytes:
        """The decoded body, streamed: the cap applies to the decoded bytes."""
        why = None
        try:
            headers = reply.headers
            coding = headers.get("Content-Encoding")
            if coding is None and "Transfer-Encoding" not in headers:
                # The common reply: identity with a Content-Length, which aiohttp reads up to
                # and no further; within the cap it is read whole, with no decoder.
                length = headers.get("Content-Length", "")
                if length.isascii() and length.isdigit() and int(length) <= cap:
                    return await reply.read()
            decoder = BodyDecoder(coding, cap)
            async for chunk in reply.content.iter_chunked(64 * 1024):
                decoder.feed(chunk)
            return decoder.finish()
        except BodyTooLargeError:
            why = f"the reply body exceeds max_response_size ({cap} bytes); refused"
        except UndecodableBodyError as exc:
            why = f"the reply body cannot be decoded: {exc}"
        raise APIResponseValidationError(
            why,
            status_code=reply.status,
            request_id=reply.headers.get("x-request-id"),
            headers=reply.headers,
            body=None,
            method=method,
            url=str(url),
        )


_NO_TIMEOUT = aiohttp.ClientTimeout(total=None)
_ACCEPT = {"Accept-Encoding": ACCEPT_ENCODING}


def wire_headers(headers: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``headers`` and ``extra`` as a plain dict for the HTTP library: the moment the
    ``Authorization`` header is built from the key (its value's ``repr`` stays hidden)."""
    if isinstance(headers, AuthorizedHeaders):
        return headers.build(extra)
    return {**headers, **extra}


def _no_reply(exc: BaseException, method: str, url: str) -> APIConnectionError:
    """The error of an attempt that got no reply, from what aiohttp raised: not sent
    (connecting failed), timed out, or the connection failed; ``exc`` is its cause."""
    text = _exception_text(exc)
    failure: APIConnectionError
    if isinstance(exc, _NOT_SENT):
        kind = APITimeoutError if isinstance(exc, TimeoutError) else APIConnectionError
        failure = kind(f"could not connect: {text}", request_sent=False, method=method, url=url)
    elif isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        failure = APITimeoutError(f"no reply within the timeout: {text}", method=method, url=url)
    else:
        failure = APIConnectionError(f"connection failed: {text}", method=method, url=url)
    failure.__cause__ = _safe_cause(exc)
    return failure


def _being_cancelled() -> bool:
    """Whether the running task itself was asked to stop (Python 3.11+ can tell; on 3.10
    every cancellation counts as one)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or cancelling() > 0


class TransportFailureError(Exception):
    """Stands in for an aiohttp exception that holds the request (and so its headers)."""


def _safe_cause(exc: BaseException) -> BaseException:
    """``exc``, or a plain stand-in with its text when anything in its chain carries the
    request's headers (aiohttp's ``ClientResponseError.request_info``): the API key
    must not be reachable from a raised error."""
    for item in exception_chain(exc):
        if isinstance(item, aiohttp.ClientResponseError) or hasattr(item, "request_info"):
            return TransportFailureError(_exception_text(exc))
    return exc


def _exception_text(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

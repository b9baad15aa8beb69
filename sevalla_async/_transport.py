"""The only module that talks to aiohttp: one attempt in, one :class:`Response` out.

It owns the :class:`aiohttp.ClientSession` (or borrows the caller's), never follows
redirects, caps the size of reply bodies, and turns aiohttp's exceptions into
:class:`APIConnectionError` / :class:`APITimeoutError`, telling whether the request can have
reached the server. ``asyncio.CancelledError`` passes through untouched; the ``async with``
around the reply releases the connection whatever happens.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl as _ssl
import urllib.request
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
from ._protocol import Response

__all__ = ["Transport", "TransportFailureError"]

# Raised while connecting: the request was certainly not sent.
_NOT_SENT = (
    aiohttp.ClientConnectorError,  # refused, DNS (ClientConnectorDNSError), TLS handshake
    aiohttp.ConnectionTimeoutError,  # connect / sock_connect timeout
    aiohttp.ClientProxyConnectionError,
)


class Transport:
    """Sends one request with aiohttp; see the module docstring."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None,
        connection_limit: int,
        ssl: _ssl.SSLContext | bool | None,
        trust_env: bool,
        proxy: str | None,
        max_response_size: int,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._connection_limit = connection_limit
        self._ssl = ssl
        self._trust_env = trust_env
        self._proxy = URL(proxy) if proxy is not None else None
        # The environment's proxy for each origin, read once (owned session only).
        self._env_proxies: dict[tuple[str, str | None, int | None], _ProxyInfo] = {}
        self._ssl_arg: _ssl.SSLContext | bool = ssl if ssl is not None else True
        self.max_response_size = max_response_size
        self._closed = False

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

    async def _env_proxy(self, url: URL) -> _ProxyInfo:
        key = (url.scheme, url.host, url.port)
        info = self._env_proxies.get(key)
        if info is None:
            info = self._env_proxies[key] = await asyncio.to_thread(env_proxy, url)
        return info

    @property
    def owns_session(self) -> bool:
        return self._owns_session

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

    async def close(self) -> None:
        """Close the session if this transport created it; a borrowed one is left open."""
        self._closed = True
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def send(
        self,
        method: str,
        url: URL,
        *,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> Response:
        """Send one attempt and read the whole reply."""
        proxy = self._proxy
        proxy_auth = None
        if _is_loopback(url.host):
            proxy = None  # loopback traffic stays on the machine: never through a proxy
        elif proxy is None and self._trust_env and self._owns_session:
            proxy, proxy_auth = self._env_proxies.get((url.scheme, url.host, url.port)) or (
                await self._env_proxy(url)
            )
        failure: APIConnectionError
        try:
            async with self.session.request(
                method,
                url,
                params=params,
                headers={**headers, "Accept-Encoding": ACCEPT_ENCODING},
                data=body,
                timeout=timeout,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
                ssl=self._ssl_arg,
                auto_decompress=False,  # _read decodes, counting the decoded bytes
            ) as reply:
                data = await self._read(reply, method, url)
                return Response(reply.status, reply.headers, data)
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
        except _NOT_SENT as exc:
            kind = APITimeoutError if isinstance(exc, TimeoutError) else APIConnectionError
            failure = kind(
                f"could not connect: {_describe(exc)}",
                request_sent=False,
                method=method,
                url=str(url),
            )
            failure.__cause__ = _safe_cause(exc)
        except (asyncio.TimeoutError, TimeoutError) as exc:
            failure = APITimeoutError(
                f"no reply within the timeout: {_describe(exc)}", method=method, url=str(url)
            )
            failure.__cause__ = _safe_cause(exc)
        except (aiohttp.ClientError, OSError) as exc:
            failure = APIConnectionError(
                f"connection failed: {_describe(exc)}", method=method, url=str(url)
            )
            failure.__cause__ = _safe_cause(exc)
        except RuntimeError:
            if not self._closed:
                raise
            failure = ClientClosedError(
                "the client is closed", request_sent=False, method=method, url=str(url)
            )
        # Raised here, outside the except blocks, so that aiohttp's exception (whose
        # request_info holds the Authorization header) is not kept as __context__.
        raise failure

    async def _read(self, reply: aiohttp.ClientResponse, method: str, url: URL) -> bytes:
        """The decoded body, streamed: the cap applies to the decoded bytes."""
        cap = self.max_response_size
        why = None
        try:
            decoder = BodyDecoder(reply.headers.get("Content-Encoding"), cap)
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


_ProxyInfo = tuple[URL | None, aiohttp.BasicAuth | None]


def env_proxy(url: URL) -> _ProxyInfo:
    """The proxy that ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY`` (and ``~/.netrc``
    for the proxy's credentials) give for ``url``: the rules of aiohttp's ``trust_env``.
    Reads files: call it off the event loop."""
    try:
        from aiohttp.helpers import get_env_proxy_for_url
    except ImportError:  # pragma: no cover - an aiohttp without the helper
        if url.host is None or urllib.request.proxy_bypass(url.host):
            return None, None
        raw = urllib.request.getproxies().get(url.scheme)
        if not raw:
            return None, None
        proxy = URL(raw)
        return proxy.with_user(None), aiohttp.BasicAuth.from_url(proxy)
    try:
        return get_env_proxy_for_url(url)
    except LookupError:
        return None, None


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        if isinstance(item, aiohttp.ClientResponseError) or hasattr(item, "request_info"):
            return TransportFailureError(_describe(exc))
        item = item.__cause__ or item.__context__
    return exc


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

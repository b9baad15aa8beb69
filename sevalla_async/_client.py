"""SevallaClient: configuration, session lifecycle and the one request loop.

One call goes: wait for the rate-limit budget -> send (transport) -> decode (protocol) ->
on failure ask the retry policy -> wait -> again, all inside the call's deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import platform
import ssl as _ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from ._errors import APIError, APITimeoutError
from ._logsafe import printable
from ._protocol import (
    _JSON_HEADERS,
    Request,
    Response,
    decode,
    error_from_response,
    parse_rate_limit,
)
from ._ratelimit import RateLimiter, RateLimitHoldError
from ._resources.deployments import Deployments
from ._resources.pipelines import Pipelines
from ._retry import RetryPolicy
from ._transport import Transport
from ._version import __version__

__all__ = ["DEFAULT_BASE_URL", "SevallaClient"]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.sevalla.com/v3"
logger = logging.getLogger("sevalla_async")

USER_AGENT = (
    f"sevalla-async/{__version__} aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
)


class _Secret:
    """Holds the API key; never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


def _resolve_key(api_key: str | None) -> _Secret:
    key = api_key if api_key is not None else os.environ.get("SEVALLA_API_KEY")
    if key is None or not key.strip():
        raise ValueError(
            "api_key: no API key given; pass api_key=... or set the SEVALLA_API_KEY "
            "environment variable"
        )
    if any(c in key for c in "\r\n\0"):
        raise ValueError("api_key: contains a control character")
    return _Secret(key.strip())


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _resolve_base_url(base_url: str | None) -> URL:
    raw = base_url if base_url is not None else os.environ.get("SEVALLA_BASE_URL")
    url = URL(raw or DEFAULT_BASE_URL)
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"base_url: expected an https:// URL, got {str(url)!r}")
    if url.user or url.password:
        raise ValueError("base_url: must not contain credentials")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise ValueError(
            f"base_url: plain http:// is refused for {url.host!r} (the API key would travel "
            "in clear); use https://, or http:// only to a loopback address"
        )
    return url.with_query(None).with_fragment(None)


class SevallaClient:
    """An async client for the Sevalla v3 API.

    Use it as an async context manager (or call :meth:`aclose`)::

        async with SevallaClient() as client:
            promotions = await client.pipelines.promote(
                pipeline_id, source_app_id=source, target_app_ids=[a, b]
            )

    Args:
        api_key: the API key; default: the ``SEVALLA_API_KEY`` environment variable.
        base_url: default ``https://api.sevalla.com/v3``, else ``SEVALLA_BASE_URL``.
            ``http://`` is allowed only to a loopback host.
        timeout: seconds for one whole call, retries and waits included (a float, or
            ``None`` for no limit); or an :class:`aiohttp.ClientTimeout` applied to each
            attempt (then the number of retries bounds the call).
        max_retries: retries after the first attempt (see the retry policy in the README).
        session: an :class:`aiohttp.ClientSession` you own; the client uses it and never
            closes it. Without it the client creates one on first use and closes it on exit.
        connection_limit: the size of the owned session's connection pool (default 100).
        max_rate_limit_wait: the longest wait accepted for a 429 (default 60 s); a longer
            ``Retry-After`` raises :class:`RateLimitError` at once.
        max_response_size: replies over this many bytes are refused (default 1 MiB).
        ssl: an :class:`ssl.SSLContext` for custom CAs or client certificates (``False``
            disables verification; don't). Default: verify against the system store.
        proxy: an explicit proxy URL; by default ``HTTPS_PROXY`` & co. are honoured.
        trust_env: read proxy settings (``HTTP(S)_PROXY``, ``NO_PROXY``, and ``~/.netrc``
            for the proxy's credentials) from the environment (default ``True``). They are
            read once per client, when it first talks to the API; credentials for the
            API host itself are never taken from ``~/.netrc`` (the API key is the auth).
        retry_policy: a :class:`RetryPolicy`-like object to replace the default policy.
        sleep, clock: injectable ``await sleep(seconds)`` and monotonic ``clock()`` (tests
            pass fakes so no test waits for real).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = 30.0,
        max_retries: int = 3,
        session: aiohttp.ClientSession | None = None,
        connection_limit: int = 100,
        max_rate_limit_wait: float = 60.0,
        max_response_size: int = 1024 * 1024,
        ssl: _ssl.SSLContext | bool | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._key = _resolve_key(api_key)
        self._base_url = _resolve_base_url(base_url)
        self._base = str(self._base_url).rstrip("/")
        if isinstance(timeout, aiohttp.ClientTimeout):
            self._deadline: float | None = None
            self._attempt_timeout: aiohttp.ClientTimeout | None = timeout
        else:
            if timeout is not None and (
                isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
            ):
                raise ValueError(f"timeout: must be a positive number of seconds, got {timeout!r}")
            self._deadline = None if timeout is None else float(timeout)
            self._attempt_timeout = None
        if type(connection_limit) is not int or connection_limit < 1:
            raise ValueError(f"connection_limit: must be an integer >= 1, got {connection_limit!r}")
        if type(max_response_size) is not int or max_response_size < 1:
            raise ValueError(
                f"max_response_size: must be a positive integer, got {max_response_size!r}"
            )
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ValueError("session: expected an aiohttp.ClientSession")
        self._policy = retry_policy or RetryPolicy(
            max_retries=max_retries, max_rate_limit_wait=max_rate_limit_wait
        )
        self._sleep: Callable[[float], Awaitable[Any]] = sleep or asyncio.sleep
        self._clock: Callable[[], float] = clock or time.monotonic
        self._limiter = RateLimiter(
            self._clock, self._sleep, max_wait=self._policy.max_rate_limit_wait
        )
        self._transport = Transport(
            session=session,
            connection_limit=connection_limit,
            ssl=ssl,
            trust_env=trust_env,
            proxy=proxy,
            max_response_size=max_response_size,
        )
        self._headers = {
            "Authorization": f"Bearer {self._key.reveal()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._json_headers = {**self._headers, **_JSON_HEADERS}
        self.pipelines = Pipelines(self)
        """Pipelines: promote, fan out, list and get."""
        self.deployments = Deployments(self)
        """Deployments: get, list, cancel and wait."""

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> SevallaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session if the client created it (a borrowed session stays open)."""
        await self._transport.close()

    def __repr__(self) -> str:
        owner = "owned" if self._transport.owns_session else "borrowed"
        return f"<SevallaClient base_url={self._base!r} session={owner}>"

    @property
    def base_url(self) -> str:
        """The API root every path is relative to."""
        return self._base

    @property
    def retry_policy(self) -> RetryPolicy:
        """The policy that decides which failures are retried and how long to wait."""
        return self._policy

    # --- the request loop -----------------------------------------------------------------

    def _deadline_at(self) -> float | None:
        return None if self._deadline is None else self._clock() + self._deadline

    async def _request(
        self,
        request: Request,
        into: Any,
        *,
        deadline: float | None = None,
        decoder: Callable[[Response], Any] | None = None,
    ) -> Any:
        """Send ``request`` with retries and return the reply structured as ``into``.

        ``deadline`` is a time on the client's clock; default: now + the client's timeout.
        """
        method = request.method
        url_text = self._base + request.path  # errors carry the text; aiohttp gets the URL
        url = URL(url_text, encoded=True)
        if deadline is None:
            deadline = self._deadline_at()
        bucket = "read" if request.idempotent else "write"
        extra = request.headers
        headers: Mapping[str, str]
        if extra is None:
            headers = self._headers
        elif extra is _JSON_HEADERS:  # every request with a body: merged once, at init
            headers = self._json_headers
        else:
            headers = {**self._headers, **extra}
        schedule = None
        attempt = 0
        limiter = self._limiter
        while True:
            attempt += 1
            error: APIError
            try:
                seq = limiter.try_acquire(bucket)  # the usual case needs no coroutine
                if seq is None:
                    seq = await limiter.acquire(bucket, deadline)
            except RateLimitHoldError as exc:
                raise APITimeoutError(
                    f"{exc}; not sent",
                    request_sent=False,
                    method=method,
                    url=url_text,
                    attempts=attempt - 1,
                ) from None
            info = None
            response: Response | None = None
            try:
                response = await self._transport.send(
                    method,
                    url,
                    params=request.params,
                    headers=headers,
                    body=request.body,
                    timeout=self._timeout_for(deadline),
                )
                info = parse_rate_limit(response.headers)
            except APIError as exc:
                error = exc
            finally:
                limiter.release(bucket, seq, info, replied=response is not None)
            if response is not None:
                if 200 <= response.status < 300:
                    if logger.isEnabledFor(logging.DEBUG):
                        _log_attempt(request, attempt, response.status, response.request_id, None)
                    try:
                        if decoder is not None:
                            return decoder(response)
                        return decode(response, into, method=method, url=url_text)
                    except APIError as exc:
                        exc.attempts = attempt
                        raise
                error = error_from_response(response, method=method, url=url_text)
            error.attempts = attempt
            if schedule is None:
                schedule = self._policy.schedule()
            wait = self._policy.decide(
                error, idempotent=request.idempotent, retries_done=attempt - 1, schedule=schedule
            )
            if wait is not None and deadline is not None and self._clock() + wait >= deadline:
                logger.warning(
                    "%s %s: not retrying after %s: the next attempt would start after the "
                    "call's timeout",
                    method,
                    request.path,
                    _short(error),
                )
                wait = None
            if logger.isEnabledFor(logging.DEBUG):
                status = response.status if response is not None else _short(error)
                rid = response.request_id if response is not None else None
                _log_attempt(request, attempt, status, rid, wait)
            if wait is None:
                raise error
            logger.warning(
                "%s %s failed (%s); retry %d of %d in %.2fs",
                method,
                request.path,
                _short(error),
                attempt,
                self._policy.max_retries,
                wait,
            )
            await self._sleep(wait)

    def _timeout_for(self, deadline: float | None) -> aiohttp.ClientTimeout:
        if self._attempt_timeout is not None:
            return self._attempt_timeout
        if deadline is None:
            return _NO_TIMEOUT
        return aiohttp.ClientTimeout(total=max(deadline - self._clock(), 0.001))


_NO_TIMEOUT = aiohttp.ClientTimeout(total=None)


def _log_attempt(
    request: Request, attempt: int, outcome: object, request_id: str | None, wait: float | None
) -> None:
    logger.debug(
        "%s %s -> %s request_id=%s attempt=%d wait=%s",
        request.method,
        request.path,
        outcome,
        request_id,
        attempt,
        "-" if wait is None else f"{wait:.2f}s",
    )


def _short(error: APIError) -> str:
    status = getattr(error, "status_code", None)
    rid = getattr(error, "request_id", None)
    text = f"{status} {error.message}" if status is not None else error.message
    return printable(f"{text} request_id={rid}" if rid else text)

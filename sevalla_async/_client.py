"""SevallaClient: configuration and lifecycle; it builds the :class:`Core` (the request
loop) over a :class:`Transport`, and the resources over the core."""

from __future__ import annotations

import asyncio
import os
import platform
import ssl as _ssl
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

import aiohttp
import attrs
from yarl import URL

from ._core import CallOptions, Core, Shared
from ._hooks import EventHooks, Hooks
from ._proxy import is_loopback
from ._resources.deployments import Deployments
from ._resources.pipelines import Pipelines
from ._resources.releases import Releases
from ._retry import RetryPolicy
from ._secret import AuthorizedHeaders, RedactingTransport, Secret
from ._transport import AiohttpTransport, Transport
from ._version import __version__
from ._wait import Waiter

__all__ = ["DEFAULT_BASE_URL", "SevallaClient"]

DEFAULT_BASE_URL = "https://api.sevalla.com/v3"

USER_AGENT = (
    f"sevalla-async/{__version__} aiohttp/{aiohttp.__version__} python/{platform.python_version()}"
)


def _transport_for(
    transport: Transport | None,
    *,
    session: aiohttp.ClientSession | None,
    connection_limit: int,
    ssl: _ssl.SSLContext | bool | None,
    proxy: str | None,
    trust_env: bool,
    timeout: aiohttp.ClientTimeout | None,
) -> Transport:
    """The caller's ``transport`` (refused with any of the connection options, which
    configure the default one), or the default :class:`AiohttpTransport` built from them."""
    if transport is None:
        return AiohttpTransport(
            session=session,
            connection_limit=connection_limit,
            ssl=ssl,
            trust_env=trust_env,
            proxy=proxy,
            timeout=timeout,
        )
    given = [
        name
        for name, value, default in (
            ("session", session, None),
            ("connection_limit", connection_limit, 100),
            ("ssl", ssl, None),
            ("proxy", proxy, None),
            ("trust_env", trust_env, True),
        )
        if value is not default and value != default
    ]
    if given:
        raise ValueError(
            f"transport: cannot be combined with {', '.join(given)} "
            "(configure the transport instead)"
        )
    if not isinstance(transport, Transport):
        raise ValueError("transport: expected a Transport (send() and aclose())")
    return transport


def _resolve_key(api_key: str | None) -> Secret:
    """The key, held as a :class:`Secret`; no frame keeps it once this returns (a
    traceback rendered with locals shows every variable of its frames)."""
    key = api_key if api_key is not None else os.environ.get("SEVALLA_API_KEY")
    del api_key
    if key is None or not key.strip():
        raise ValueError(
            "api_key: no API key given; pass api_key=... or set the SEVALLA_API_KEY "
            "environment variable"
        )
    if any(c in key for c in "\r\n\0"):
        del key
        raise ValueError("api_key: contains a control character")
    return Secret(key.strip())


def _resolve_base_url(base_url: str | None) -> URL:
    raw = base_url if base_url is not None else os.environ.get("SEVALLA_BASE_URL")
    url = URL(raw or DEFAULT_BASE_URL)
    if url.scheme not in ("https", "http") or not url.host:
        raise ValueError(f"base_url: expected an https:// URL, got {str(url)!r}")
    if url.user or url.password:
        raise ValueError("base_url: must not contain credentials")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ValueError(
            f"base_url: plain http:// is refused for {url.host!r} (the API key would travel "
            "in clear); use https://, or http:// only to a loopback address"
        )
    return url.with_query(None).with_fragment(None)


def _served_at(transport: object) -> str | None:
    """The base URL a transport serves itself at (``base_url``), if it declares one."""
    declared = getattr(transport, "base_url", None)
    return declared.rstrip("/") if isinstance(declared, str) and declared else None


class _NotGiven:
    """The default of an option that :meth:`SevallaClient.with_options` keeps."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = _NotGiven()


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout: must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class SevallaClient:
    """An async client for the Sevalla v3 API.

    Use it as an async context manager (or call :meth:`aclose`)::

        async with SevallaClient() as client:
            promotions = await client.pipelines.promote(
                pipeline_id, source_app_id=source, target_app_ids=[a, b]
            )

    Args:
        api_key: the API key; when ``None``, the ``SEVALLA_API_KEY`` environment variable
            (surrounding whitespace is dropped). Neither: ``ValueError``.
        base_url: the API root. When ``None``, the ``SEVALLA_BASE_URL`` environment variable;
            when that is unset or empty, ``https://api.sevalla.com/v3``. A query, a fragment
            and a trailing ``/`` are dropped; credentials in it are refused; ``http://`` is
            allowed only to a loopback host (``ValueError`` otherwise).
        timeout: seconds for one whole call, retries and rate-limit waits included (a
            float, default 30; ``None`` for no limit); or an :class:`aiohttp.ClientTimeout`
            applied to each attempt (then the number of retries bounds the call).
        max_retries: retries after the first attempt (default 3; see the retry policy in
            the README).
        session: an :class:`aiohttp.ClientSession` you own; the client uses it and never
            closes it. Without it the client creates one on first use and closes it on exit.
        connection_limit: the size of the owned session's connection pool (default 100).
        max_rate_limit_wait: the longest rate-limit wait accepted, in seconds: a 429's
            ``Retry-After``, or the client's own hold while the budget is spent. Default
            ``None``: bounded by ``timeout`` alone. A wait over the bound, or one that would
            end after the call's timeout, raises :class:`RateLimitError` at once (for the
            hold, its subclass :class:`ClientRateLimitError`: nothing was sent), with
            ``retry_after`` set.
        max_response_size: replies over this many bytes are refused (default 1 MiB).
        ssl: an :class:`ssl.SSLContext` for custom CAs or client certificates (``False``
            disables verification; don't). Default: verify against the system store.
        proxy: an explicit proxy URL; by default ``HTTPS_PROXY`` & co. are honoured.
        trust_env: read proxy settings (``HTTP(S)_PROXY``, ``NO_PROXY``, and ``~/.netrc``
            for the proxy's credentials) from the environment (default ``True``). They are
            read once per client, when it first talks to the API; credentials for the
            API host itself are never taken from ``~/.netrc`` (the API key is the auth).
        retry_policy: a :class:`RetryPolicy`-like object to replace the default policy
            (then ``max_retries`` and ``max_rate_limit_wait`` are not used).
        event_hooks: ``{"request": [...], "response": [...]}``, lists of functions or
            ``async def`` called once per attempt with a :class:`RequestEvent` /
            :class:`ResponseEvent` (for metrics and tracing; a hook that raises is logged
            and ignored). Hooks run under the call's ``timeout``: an ``async`` hook still
            running at the deadline is cancelled and logged; a request hook's then stops
            the call (:class:`APITimeoutError`, nothing sent), a response hook's leaves the
            result as it was. See the Observability guide.
        sleep, clock: injectable ``await sleep(seconds)`` and monotonic ``clock()`` (tests
            pass fakes so no test waits for real).
        wall_clock: the current Unix time in seconds (default :func:`time.time`), read
            when a promotion is sent (its ``sent_at``) and by reconciliation.
        transport: a :class:`Transport` to send through instead of the default
            :class:`AiohttpTransport` (e.g. ``FakeSevalla().transport()`` in tests); then
            ``session``, ``connection_limit``, ``ssl``, ``proxy`` and ``trust_env`` must not
            be given (configure the transport instead). The client owns the transport it is
            given, as httpx does: :meth:`aclose` closes it. A transport that serves
            itself and says where (a ``base_url`` attribute: the in-memory fake's is
            ``fake://sevalla/v3``) gives the client that base URL unless ``base_url`` is
            passed, so errors never name the production API for a call that never left.

    :meth:`with_options` gives a client with another ``timeout`` or ``max_retries`` that
    shares this one's transport, rate-limit budget, poll pacing and hooks.
    """

    pipelines: Pipelines
    """Pipelines: promote, fan out, list and get."""
    deployments: Deployments
    """Deployments: get, list, cancel, roll back and wait."""
    releases: Releases
    """Releases: promote in waves, gated, with rollback."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | aiohttp.ClientTimeout | None = 30.0,
        max_retries: int = 3,
        session: aiohttp.ClientSession | None = None,
        connection_limit: int = 100,
        max_rate_limit_wait: float | None = None,
        max_response_size: int = 1024 * 1024,
        ssl: _ssl.SSLContext | bool | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] | None = None,
        transport: Transport | None = None,
        event_hooks: EventHooks | None = None,
    ) -> None:
        key = _resolve_key(api_key)
        del api_key  # held by ``key`` alone from here on
        base = (None if base_url is not None else _served_at(transport)) or str(
            _resolve_base_url(base_url)
        ).rstrip("/")
        attempt_timeout = timeout if isinstance(timeout, aiohttp.ClientTimeout) else None
        call_timeout = None if attempt_timeout is not None else _check_timeout(timeout)
        clock = clock or time.monotonic
        sleep = sleep or asyncio.sleep
        hooks = Hooks.check(event_hooks, clock=clock, sleep=sleep)
        if type(max_response_size) is not int or max_response_size < 1:
            raise ValueError(
                f"max_response_size: must be a positive integer, got {max_response_size!r}"
            )
        owns_session = transport is None and session is None
        caller_transport = transport is not None
        transport = _transport_for(
            transport,
            session=session,
            connection_limit=connection_limit,
            ssl=ssl,
            proxy=proxy,
            trust_env=trust_env,
            timeout=attempt_timeout,
        )
        policy = retry_policy or RetryPolicy(
            max_retries=max_retries, max_rate_limit_wait=max_rate_limit_wait
        )
        shared = Shared(
            # Replies and transport errors have the key redacted before anything reads them.
            transport=RedactingTransport(transport, key),
            base_url=base,
            # Authorization is added by the transport when it sends (see TransportRequest).
            headers=AuthorizedHeaders(
                {"Accept": "application/json", "User-Agent": USER_AGENT}, key
            ),
            clock=clock,
            sleep=sleep,
            wall_clock=wall_clock or time.time,
            # An aiohttp.ClientTimeout applies per attempt: the default transport was given
            # it whole; a caller's transport gets its total as each request's timeout.
            attempt_timeout=attempt_timeout.total
            if attempt_timeout is not None and caller_transport
            else None,
            max_response_size=max_response_size,
            pool_limit=lambda: getattr(transport, "pool_limit", None),
            hooks=hooks,
        )
        core = Core(shared, CallOptions(call_timeout, policy))
        self._bind(core, Waiter(core), transport, owner=True, owns_session=owns_session)

    def _bind(
        self, core: Core, waiter: Waiter, transport: Transport, *, owner: bool, owns_session: bool
    ) -> None:
        """Attach the core and build the resources over it (the constructor, and
        :meth:`with_options` for a derived client); ``transport`` is the one the core's
        sends reach (the core's own wraps it)."""
        self._core = core
        self._waiter = waiter
        self._owner = owner  # only the client built with the transport closes it
        self._owns_session = owns_session
        self._transport = transport
        self.deployments = Deployments(core, waiter)
        self.pipelines = Pipelines(core, waiter)
        self.releases = Releases(self.pipelines, self.deployments, waiter)

    def with_options(
        self,
        *,
        timeout: float | _NotGiven | None = NOT_GIVEN,
        max_retries: int | _NotGiven = NOT_GIVEN,
    ) -> SevallaClient:
        """A client with another ``timeout`` and/or ``max_retries``, sharing this one's
        transport (session, connection pool), rate-limit budget, poll pacing, clocks and
        event hooks::

            patient = client.with_options(timeout=300, max_retries=6)
            await patient.pipelines.promote(...)   # same connections, same budget

        Options not given keep this client's values. ``timeout`` is seconds for one whole
        call (``None``: no limit); the per-attempt form (:class:`aiohttp.ClientTimeout`)
        belongs to the transport and cannot change here. ``max_retries`` replaces the
        retry policy's, the rest of the policy is kept (a custom ``retry_policy`` must be a
        :class:`RetryPolicy` to take it).

        It is cheap (no I/O): make one per use if you like. Closing the new client (or
        leaving its ``async with``) closes nothing; the transport stays this client's, so
        close this one when done. Invalid values raise ``ValueError`` naming the option.
        """
        options = self._core.options
        call_timeout = options.call_timeout
        if not isinstance(timeout, _NotGiven):
            call_timeout = _check_timeout(timeout)
        policy = options.policy
        if not isinstance(max_retries, _NotGiven):
            if not isinstance(policy, RetryPolicy):
                raise ValueError(
                    "max_retries: this client's retry_policy is not a RetryPolicy; "
                    "build a client with the policy you want instead"
                )
            policy = attrs.evolve(policy, max_retries=max_retries)
        core = self._core.with_options(CallOptions(call_timeout, policy))
        derived = SevallaClient.__new__(SevallaClient)
        derived._bind(
            core, self._waiter.bound_to(core), self._transport, owner=False, owns_session=False
        )
        return derived

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
        """Close the transport: the default one closes the session it created (a borrowed
        ``session`` stays open); a transport passed as ``transport=`` is closed too. On a
        client made by :meth:`with_options` it does nothing (the original owns the
        transport)."""
        if self._owner:
            await self._transport.aclose()

    def __repr__(self) -> str:
        if not isinstance(self._transport, AiohttpTransport):
            kind = type(self._transport).__name__
            return f"<SevallaClient base_url={self.base_url!r} transport={kind}>"
        owner = "owned" if self._owns_session else "borrowed"
        if not self._owner:
            owner = "shared"
        return f"<SevallaClient base_url={self.base_url!r} session={owner}>"

    @property
    def base_url(self) -> str:
        """The API root every path is relative to."""
        return self._core.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        """The policy that decides which failures are retried and how long to wait."""
        return self._core.policy

"""FakeSevalla: the Sevalla v3 API as an in-process aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import secrets
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web
from multidict import CIMultiDictProxy

from . import _routes_deployments, _routes_logs, _routes_pipelines
from ._fake_data import FakeData
from ._faults import Fault, FaultQueue
from ._http import Dropped, FakeAPIError, FakeRequest, Incoming, Reply, error_body, error_reply
from ._memory import MemoryTransport
from ._ratewindow import RateLimit, Window
from ._state import PromotePlan, State

__all__ = ["FakeSevalla", "RecordedRequest"]

_Window = Window  # the old name, still imported by benchmarks/_fake_server_proc.py


@attrs.frozen
class RecordedRequest:
    """One request the fake received (recorded before faults, auth or rate limits)."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    request_id: str
    status: int | None = attrs.field(default=None, eq=False)

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


class FakeSevalla(FakeData):
    """A faithful fake of the Sevalla v3 API for tests, demos and benchmarks.

    It serves promote, pipelines (list, get), deployments (get, list, cancel, rollback:
    a new ``ROLLBACK_DEPLOYMENT`` of the app's last successful build) and their logs
    (:meth:`set_logs`, :meth:`fail_deployments`) on a random
    port of 127.0.0.1, checks the bearer token and request bodies as the API does, answers
    errors with the API's error body, and puts ``x-request-id`` and ``x-ratelimit-*`` on
    every reply. Deployments it creates move ``waiting -> inProgress -> success``, one step
    per GET or per so many seconds of its clock (see :meth:`script_deployments`); they can
    be cancelled. Lists page as the API does (``limit`` 1-100, default 25; ``offset``;
    ``total``).

    ::

        async with FakeSevalla() as fake:
            pipeline = fake.add_pipeline()
            async with SevallaClient(fake.api_key, base_url=fake.base_url) as client:
                await client.pipelines.promote(...)
            assert fake.requests[-1].path.endswith("/promote")

    Script faults for the next matching requests with :meth:`inject`; inspect what was
    received in :attr:`requests`; :attr:`max_in_flight` tells the peak concurrency seen.

    Args:
        api_key: the token it accepts (default: a random one, see :attr:`api_key`).
        read_limit, write_limit: enforced :class:`RateLimit` for GETs and for other
            methods (default: 100,000 per minute, i.e. never hit in practice).
        clock: the clock of the rate-limit windows (tests pass the client's fake clock).
        wall_clock: Unix seconds for ``created_at`` and the ``Date`` header (default: the
            ``wall`` reading of a :class:`FakeClock` given as ``clock``, else
            :func:`time.time`).
        skew: seconds the server's clock runs ahead of ``wall_clock`` (negative: behind);
            changeable later as :attr:`clock_skew`.
        latency: every reply comes this many seconds late (changeable later as
            :attr:`latency`), on the fake's clock: a :class:`FakeClock`'s ``sleep`` when
            ``clock`` is one, else real time.
        host, port: where to listen (default 127.0.0.1 and a free port).
        ssl_context: serve https with this server-side context (to test TLS set-ups).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        read_limit: RateLimit | None = None,
        write_limit: RateLimit | None = None,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        wall_clock: Callable[[], float] | None = None,
        skew: float = 0.0,
        latency: float = 0.0,
    ) -> None:
        self.api_key: str = api_key or f"fake-{secrets.token_urlsafe(16)}"
        self.state: State = State(clock, wall_clock or getattr(clock, "wall", None))
        self.state.skew = skew
        self.latency: float = latency
        """Seconds every reply takes (see the ``latency`` argument)."""
        self.requests: list[RecordedRequest] = []
        self.in_flight: int = 0
        self.max_in_flight: int = 0
        self._faults = FaultQueue()
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._sleep: Callable[[float], Awaitable[Any]] = getattr(clock, "sleep", asyncio.sleep)
        self._windows = {
            "read": Window(read_limit or RateLimit(100_000), clock),
            "write": Window(write_limit or RateLimit(100_000), clock),
        }
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._url: str | None = None
        self._counter = 0
        self._lock = threading.Lock()  # the state is shared with other threads' loops
        self._routes = [
            *_routes_pipelines.routes("/v3"),
            *_routes_deployments.routes("/v3"),
            *_routes_logs.routes("/v3"),
        ]

    # --- lifecycle ------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application (for mounting the fake elsewhere)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        return app

    async def start(self) -> FakeSevalla:
        """Start listening; returns ``self``."""
        if self._runner is not None:
            return self
        self._closing = asyncio.Event()  # bound to this loop
        runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl_context)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        scheme = "https" if self._ssl_context is not None else "http"
        self._url = f"{scheme}://{self._host}:{port}/v3"
        return self

    async def close(self) -> None:
        """Stop the server and drop its connections (scripted delays end at once)."""
        self._closing.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeSevalla:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """The URL to give :class:`SevallaClient` as ``base_url``."""
        if self._url is None:
            raise RuntimeError("FakeSevalla is not started: use 'async with FakeSevalla()'")
        return self._url

    def __repr__(self) -> str:
        return f"<FakeSevalla {self._url or 'not started'} requests={len(self.requests)}>"

    # --- faults and recording -------------------------------------------------------------

    def inject(
        self,
        fault: Fault,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests that match ``method`` and whose path ends
        with ``path`` (both optional) with ``fault``."""
        self._faults.add(fault, times, method, path)

    def clear_faults(self) -> None:
        """Forget every scripted fault that has not fired yet."""
        self._faults.clear()

    @property
    def pending_faults(self) -> int:
        """How many scripted fault replies are still waiting for a request."""
        return len(self._faults)

    def requests_to(self, method: str, path_suffix: str = "") -> list[RecordedRequest]:
        """The recorded requests with this method whose path ends with ``path_suffix``."""
        method = method.upper()
        return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # --- the dispatcher: every request, over loopback or in memory, goes through it -------

    def transport(self) -> MemoryTransport:
        """A :class:`~sevalla_async.Transport` that serves this fake in memory, without a
        socket: pass it as ``SevallaClient(fake.api_key, transport=fake.transport())``
        (any ``base_url``; the default one works). Routes, state, auth, rate limits, faults
        and :attr:`requests` are the same as over loopback, and no :meth:`start` is needed.
        It works from any event loop and thread (FastAPI's sync ``TestClient`` runs your
        app on its own). A dropped connection raises :class:`APIConnectionError`; scripted
        delays sleep on the fake's clock (a :class:`FakeClock`'s ``sleep`` when it is one).
        """
        return MemoryTransport(self.dispatch, self._sleep)

    async def dispatch(
        self,
        request: Incoming,
        *,
        wait: Callable[[float], Awaitable[None]],
        pause: Callable[[float], Awaitable[Any]] | None = None,
    ) -> Reply | Dropped:
        """Answer one request: record it, apply a scripted fault, auth and the rate limits,
        run the route; ``wait(seconds)`` carries out a fault's delay, ``pause(seconds)``
        (default ``wait``) the :attr:`latency`."""
        with self._lock:
            self._counter += 1
            request_id = f"req_{self._counter:06d}_{secrets.token_hex(4)}"
            record = RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                request.headers,
                request.body,
                request_id,
            )
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency > 0:
                await (pause or wait)(self.latency)
            reply = await self._answer(request, wait)
            if isinstance(reply, Dropped):
                return reply
            reply.headers["x-request-id"] = request_id
            with self._lock:
                reply.headers["Date"] = format_date(self.state.server_now())
            object.__setattr__(record, "status", reply.status)
            return reply
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(
        self, request: Incoming, wait: Callable[[float], Awaitable[None]]
    ) -> Reply | Dropped:
        bucket = "read" if request.method == "GET" else "write"
        with self._lock:
            fault = self._faults.take(request.method, request.path)
            if fault is None:
                auth = self._check_auth(request.headers)
                if auth is not None:
                    return auth
                allowed, limit_headers = self._windows[bucket].take()
                reply = self._handle(request) if allowed else error_reply(429, "Too many requests")
                reply.headers.update(limit_headers)
                return reply
        if fault.delay:
            await wait(fault.delay)
        with self._lock:
            if fault.drop == "before":
                return Dropped(acted=False)
            handled: Reply | None = None
            if fault.acts:
                plan = fault.promote_plan()
                if plan is not None:  # act on some targets only, or late
                    self.state.promote_plan = PromotePlan(*plan)
                handled = self._handle(request)
        if fault.stall:  # acted; the reply never comes
            await wait(fault.stall)
            return Dropped(acted=True)
        with self._lock:
            if fault.drop == "after":
                return Dropped(acted=True)
            if fault.status is None:
                assert handled is not None
                reply = handled
            else:
                is_json = fault.body is None or isinstance(fault.body, (dict, list))
                reply = Reply(
                    fault.status,
                    fault.render_body(error_body(fault.status, _reason(fault.status))),
                    {"Content-Type": "application/json" if is_json else "text/html"},
                )
            _, limit_headers = self._windows[bucket].take()
            reply.headers.update(limit_headers)
            reply.headers.update(fault.headers)
            reply.chunked = fault.chunked
            return reply

    def _handle(self, request: Incoming) -> Reply:
        allowed: list[str] = []
        for route in self._routes:
            match = route.regex.match(request.path)
            if match is None:
                continue
            if route.method != request.method:
                allowed.append(route.method)
                continue
            seen = FakeRequest(
                self.state, match.groupdict(), request.query, request.headers, request.body
            )
            try:
                return route.handler(seen)
            except FakeAPIError as failure:
                return failure.response()
        if allowed:
            return error_reply(405, "Method Not Allowed")
        return error_reply(404, "Not Found")

    def _check_auth(self, headers: CIMultiDictProxy[str]) -> Reply | None:
        header = headers.get("Authorization", "")
        if header == f"Bearer {self.api_key}":
            return None
        message = "Unauthorized" if header else "Missing Authorization header"
        return error_reply(401, message)

    # --- the loopback server's side -------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        incoming = Incoming(request.method, request.path, request.query, request.headers, body)
        pause = self._real_wait if self._sleep is asyncio.sleep else self._sleep
        reply = await self.dispatch(incoming, wait=self._real_wait, pause=pause)
        if isinstance(reply, Dropped):
            transport = request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=500)
        response = web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        if reply.chunked:
            response.enable_chunked_encoding()
        return response

    async def _real_wait(self, seconds: float) -> None:
        # Cut short by close(), which otherwise waits for every handler to finish.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)


def format_date(moment: datetime) -> str:
    """An HTTP ``Date`` header value (IMF-fixdate)."""
    return email.utils.format_datetime(moment, usegmt=True)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"

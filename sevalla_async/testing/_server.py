"""FakeSevalla: the Sevalla v3 API as an in-process aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import math
import secrets
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web
from multidict import CIMultiDictProxy

from .._models import PromoteRequest
from . import _routes_deployments, _routes_pipelines
from ._faults import Fault, FaultQueue
from ._http import STATE, FakeAPIError, error_body, json_reply
from ._state import Build, FakeDeployment, FakePipeline, PromotePlan, State

__all__ = ["FakeSevalla", "RateLimit", "RecordedRequest"]

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@attrs.frozen
class RateLimit:
    """A fixed-window limit: ``requests`` per ``window`` seconds."""

    requests: int
    window: float = 60.0


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


class _Window:
    """One fixed-window counter on the fake's clock."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self.start = clock()
        self.used = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        now = self.clock()
        if now >= self.start + self.limit.window:
            elapsed = now - self.start
            self.start += self.limit.window * math.floor(elapsed / self.limit.window)
            self.used = 0
        allowed = self.used < self.limit.requests
        if allowed:
            self.used += 1
        reset = max(0, math.ceil(self.start + self.limit.window - now))
        headers = {
            "x-ratelimit-limit": str(self.limit.requests),
            "x-ratelimit-remaining": str(self.limit.requests - self.used),
            "x-ratelimit-reset": str(reset),
        }
        if not allowed:
            headers["Retry-After"] = str(reset)
        return allowed, headers


class FakeSevalla:
    """A faithful fake of the Sevalla v3 API for tests, demos and benchmarks.

    It serves promote, pipelines (list, get) and deployments (get, list, cancel) on a random
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
    ) -> None:
        self.api_key = api_key or f"fake-{secrets.token_urlsafe(16)}"
        self.state = State(clock, wall_clock or getattr(clock, "wall", None))
        self.state.skew = skew
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults = FaultQueue()
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._clock = clock
        self._windows = {
            "read": _Window(read_limit or RateLimit(100_000), clock),
            "write": _Window(write_limit or RateLimit(100_000), clock),
        }
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._url: str | None = None
        self._counter = 0

    # --- lifecycle ------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application (for mounting the fake elsewhere)."""
        app = web.Application(middlewares=[self._middleware])
        app[STATE] = self.state
        app.add_routes(_routes_pipelines.routes("/v3"))
        app.add_routes(_routes_deployments.routes("/v3"))
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

    # --- data -----------------------------------------------------------------------------

    def add_pipeline(
        self,
        *,
        name: str | None = None,
        stages: Iterable[str] = ("Staging", "Production"),
        apps_per_stage: int = 1,
    ) -> FakePipeline:
        """A new pipeline whose stages hold ``apps_per_stage`` apps each; every app has a
        successful deployment, so it can be promoted from."""
        return self.state.add_pipeline(name=name, stages=stages, apps_per_stage=apps_per_stage)

    def promote_requests(self, count: int, *, targets: int = 2) -> list[PromoteRequest]:
        """``count`` new pipelines and, for each, a valid request promoting its first
        stage to the ``targets`` apps of its second."""
        return [
            self.add_pipeline(apps_per_stage=targets).promote_request(0, 1) for _ in range(count)
        ]

    def add_app(self, *, deployed: bool = True) -> uuid.UUID:
        """An app outside any pipeline (with one successful deployment if ``deployed``)."""
        return self.state.add_app(deployed=deployed)

    def add_deployment(
        self,
        app_id: uuid.UUID,
        *,
        script: list[str | None] | None = None,
        every: float | None = None,
    ) -> FakeDeployment:
        """A deployment of ``app_id`` that shows ``script``'s statuses in turn: one per GET,
        or one per ``every`` seconds of the fake's clock (default: the script and pacing
        of :meth:`script_deployments`)."""
        return self.state.add_deployment(app_id, script=script, every=every)

    def deployment(self, deployment_id: uuid.UUID | str) -> FakeDeployment:
        """The fake's record of a deployment (its status, polls, cancellation)."""
        return self.state.deployments[uuid.UUID(str(deployment_id))]

    def script_deployments(
        self,
        statuses: Iterable[str | None],
        *,
        app_id: uuid.UUID | str | None = None,
        every: float | None = None,
    ) -> None:
        """The statuses the next deployments will show in turn (the last one sticks): one
        step per GET of the deployment, or, with ``every``, one step per ``every`` seconds
        of the fake's clock since the deployment was created. ``None`` is a status too (the
        API's ``null``), and so is any string, to mimic a status the SDK does not know.

        With ``app_id``, only that app's next deployment; otherwise every later one::

            fake.script_deployments(["waiting", "inProgress", "failed"], app_id=target)
            fake.script_deployments(["waiting", "inProgress", "success"], every=30)
        """
        script = list(statuses)
        if not script:
            raise ValueError("statuses: at least one status is required")
        if every is not None and not every > 0:
            raise ValueError(f"every: must be a positive number of seconds, got {every!r}")
        if app_id is None:
            self.state.default_script = (script, every)
        else:
            self.state.next_scripts[uuid.UUID(str(app_id))] = (script, every)

    @property
    def clock_skew(self) -> float:
        """Seconds the server's clock (``Date``, ``created_at``) runs ahead of the wall
        clock; negative when behind."""
        return self.state.skew

    @clock_skew.setter
    def clock_skew(self, seconds: float) -> None:
        self.state.skew = float(seconds)

    def deploy(
        self,
        app_id: uuid.UUID | str,
        *,
        build_of: uuid.UUID | str | None = None,
        automatic: bool = False,
        late: float = 0.0,
    ) -> FakeDeployment:
        """A deployment that is not a promotion: a git push's automatic deploy
        (``automatic=True``) or a person's manual deploy, of the latest successful build
        of ``build_of`` (e.g. the promotion's source app) or of a new build."""
        app = uuid.UUID(str(app_id))
        build = None
        if build_of is not None:
            build = self.state.latest_build(uuid.UUID(str(build_of)))
        return self.state.add_deployment(
            app,
            build=build or Build.fresh(app),
            type="automatic" if automatic else "manual",
            trigger="AUTO_DEPLOY_ON_PUSH" if automatic else "MANUAL_DEPLOY",
            late=late,
        )

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

    # --- the middleware -------------------------------------------------------------------

    def _next_request_id(self) -> str:
        self._counter += 1
        return f"req_{self._counter:06d}_{secrets.token_hex(4)}"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        request_id = self._next_request_id()
        body = await request.read()
        record = RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            request.headers,
            body,
            request_id,
        )
        self.requests.append(record)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(request, handler)
            if response is None:  # dropped
                return web.Response(status=500)
            response.headers["x-request-id"] = request_id
            response.headers["Date"] = format_date(self.state.server_now())
            object.__setattr__(record, "status", response.status)
            return response
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request, handler: _Handler) -> web.StreamResponse | None:
        bucket = "read" if request.method == "GET" else "write"
        fault = self._faults.take(request.method, request.path)
        if fault is not None:
            return await self._faulted(request, handler, fault, bucket)
        auth = self._check_auth(request)
        if auth is not None:
            return auth
        allowed, limit_headers = self._windows[bucket].take()
        response: web.StreamResponse
        if not allowed:
            response = json_reply(error_body(429, "Too many requests"), status=429)
        else:
            response = await self._handle(request, handler)
        response.headers.update(limit_headers)
        return response

    async def _faulted(
        self, request: web.Request, handler: _Handler, fault: Fault, bucket: str
    ) -> web.StreamResponse | None:
        if fault.delay:
            # Cut short by close(), which otherwise waits for every handler to finish.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
        if fault.drop == "before":
            return self._drop(request)
        handled: web.StreamResponse | None = None
        if fault.acts:
            plan = fault.promote_plan()
            if plan is not None:
                self.state.promote_plan = PromotePlan(*plan)
            handled = await self._handle(request, handler)
        if fault.stall:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.stall)
            return self._drop(request)
        if fault.drop == "after":
            return self._drop(request)
        response: web.StreamResponse
        if fault.status is None:
            assert handled is not None
            response = handled
        else:
            response = web.Response(
                body=fault.render_body(error_body(fault.status, _reason(fault.status))),
                status=fault.status,
                content_type="application/json"
                if fault.body is None or isinstance(fault.body, (dict, list))
                else "text/html",
            )
        _, limit_headers = self._windows[bucket].take()
        response.headers.update(limit_headers)
        response.headers.update(fault.headers)
        if fault.chunked:
            response.enable_chunked_encoding()
        return response

    async def _handle(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except FakeAPIError as failure:
            return failure.response()
        except web.HTTPException as exc:  # unknown route or method
            return json_reply(error_body(exc.status, exc.reason), status=exc.status)

    def _check_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {self.api_key}":
            return None
        message = "Unauthorized" if header else "Missing Authorization header"
        return json_reply(error_body(401, message), status=401)

    @staticmethod
    def _drop(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()
        return None


def format_date(moment: datetime) -> str:
    """An HTTP ``Date`` header value (IMF-fixdate)."""
    return email.utils.format_datetime(moment, usegmt=True)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"

"""The core every resource and workflow talks through: the one request loop, the clock, the
sleep and the rate-limit budget of one client.

One call goes: wait for the rate-limit budget -> send (transport) -> decode (protocol) ->
on failure ask the retry policy -> wait -> again, all inside the call's deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

import attrs

from ._errors import APIError, ClientRateLimitError
from ._hooks import Hooks, RequestEvent, path_template, response_event
from ._logsafe import printable
from ._promote_outcome import settle_state
from ._protocol import Request, decode, error_from_response
from ._rate_headers import parse_rate_limit
from ._ratelimit import RateLimiter, RateLimitHoldError
from ._record import Send
from ._retry import RetryPolicy
from ._secret import AuthorizedHeaders
from ._wire import Transport, TransportRequest, TransportResponse

__all__ = ["CallOptions", "Core", "Shared"]

T = TypeVar("T")

logger = logging.getLogger("sevalla_async")


class Shared:
    """What every client derived from one :class:`SevallaClient` shares: the transport
    (session, connection pool), the base URL and headers, the clocks and sleep, the
    rate-limit budget, the response cap and the event hooks. Only the client built with
    the transport owns it."""

    def __init__(
        self,
        *,
        transport: Transport,
        base_url: str,
        headers: AuthorizedHeaders,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]],
        wall_clock: Callable[[], float],
        attempt_timeout: float | None,
        max_response_size: int,
        pool_limit: Callable[[], int | None],
        hooks: Hooks | None = None,
    ) -> None:
        self.transport = transport
        self.base_url = base_url
        self.clock = clock
        self.sleep = sleep
        self.wall_clock = wall_clock
        self.budget: RateLimiter = RateLimiter(clock, sleep)
        self.attempt_timeout = attempt_timeout
        self.max_response_size = max_response_size
        self.pool_limit = pool_limit
        self.hooks = hooks
        # The key stays in its Secret: the transport builds the Authorization header.
        self.headers = headers


@attrs.frozen(slots=True)
class CallOptions:
    """The options of one client (a :meth:`SevallaClient.with_options` changes them):
    seconds for one whole call (``None``: no limit) and the retry policy."""

    call_timeout: float | None
    policy: RetryPolicy


class Core:
    """The small internal interface of one client (see the module docstring): the
    :class:`Shared` part of the client's family, with this client's :class:`CallOptions`.

    Attributes:
        clock: the monotonic clock (injectable).
        wall_clock: the current Unix time (injectable): a write's ``sent_at``.
        sleep: the ``await sleep(seconds)`` every wait goes through (injectable).
        base_url: the API root every request path is relative to.
        budget: the rate-limit budget (:class:`RateLimiter`), shared by derived clients.
        call_timeout: seconds for one whole call, retries included (``None``: no limit).
        policy: the retry policy.
    """

    def __init__(self, shared: Shared, options: CallOptions) -> None:
        self.shared = shared
        self.options = options
        self.transport: Transport = shared.transport
        self.base_url: str = shared.base_url
        self.clock: Callable[[], float] = shared.clock
        self.sleep: Callable[[float], Awaitable[Any]] = shared.sleep
        self.wall_clock: Callable[[], float] = shared.wall_clock
        self.budget: RateLimiter = shared.budget
        self.policy: RetryPolicy = options.policy
        self.call_timeout: float | None = options.call_timeout
        self._hooks = shared.hooks
        self._attempt_timeout = shared.attempt_timeout
        self._max_response_size = shared.max_response_size
        self._pool_limit = shared.pool_limit
        self._headers = shared.headers

    def with_options(self, options: CallOptions) -> Core:
        """A core over the same :class:`Shared` part with other options."""
        return Core(self.shared, options)

    @property
    def pool_limit(self) -> int | None:
        """How many connections the transport may open to the API (``None``: unknown)."""
        return self._pool_limit()

    def deadline(self, timeout: float | None) -> float | None:
        """The time on :attr:`clock` ``timeout`` seconds from now (``None``: no limit)."""
        return None if timeout is None else self.clock() + timeout

    def _headers_for(self, request: Request) -> AuthorizedHeaders:
        return self._headers.plus(request.headers)

    async def request(
        self,
        req: Request,
        into: type[T],
        *,
        deadline: float | None = None,
        send: Send | None = None,
    ) -> T:
        """Send ``req`` with retries and return the reply structured as ``into``.

        ``deadline`` is a time on :attr:`clock`; default: now + :attr:`call_timeout`.
        ``send`` (writes): the caller's mark, set when an attempt may reach the API and
        cleared when the API certainly did not act on it, so that the caller knows after a
        reply, an error or a cancellation whether its write left (and when).
        """
        result, _ = await self.request_with_reply(req, into, deadline=deadline, send=send)
        return result

    async def request_with_reply(
        self,
        req: Request,
        into: type[T],
        *,
        deadline: float | None = None,
        send: Send | None = None,
    ) -> tuple[T, TransportResponse]:
        """Like :meth:`request`, with the 2xx reply it was decoded from (its headers)."""
        url_text = self.base_url + req.path  # errors carry the URL without the query
        url = url_text
        if req.params:
            url += "?" + "&".join(f"{k}={v}" for k, v in req.params.items())
        if deadline is None:
            deadline = self.deadline(self.call_timeout)
        headers = self._headers_for(req)
        cap = max(self._max_response_size, req.reply_size)
        write = not req.idempotent
        bucket = "write" if write else "read"
        mark = send if write else None
        call = _Call(req, url, url_text, headers, cap, deadline, write, bucket, mark)
        budget = self.budget
        schedule = None
        sent_wall: float | None = None
        attempt = 0
        while True:
            attempt += 1
            seq = budget.try_acquire(bucket)  # the usual case needs no coroutine
            if seq is None:
                seq = await self._acquire(call, attempt)
            response, error, sent_wall = await self._attempt(call, seq, attempt, sent_wall)
            if error is None:
                try:
                    result: T = decode(
                        response,
                        into,
                        method=req.method,
                        url=url_text,
                        attempts=attempt,
                        accept=req.accept,
                        wire=req.wire,
                    )
                except APIError as exc:
                    if write:
                        settle_state(exc, sent_wall, promotes=req.promotes)
                    raise
                return result, response
            if schedule is None:
                schedule = self.policy.schedule()
            wait = self._retry_wait(call, error, response, attempt, schedule)
            if wait is None:
                unsent = write and settle_state(error, sent_wall, promotes=req.promotes)
                if unsent and mark is not None:
                    mark.clear()
                raise error
            if mark is not None:  # retried: the API did not act on this attempt
                mark.clear()
            await self.sleep(wait)

    async def _acquire(self, call: _Call, attempt: int) -> int:
        """Wait for the rate-limit budget (the slow path), or raise the
        :class:`ClientRateLimitError` of a hold longer than the call may wait."""
        try:
            return await self.budget.acquire(call.bucket, self._hold_deadline(call.deadline))
        except RateLimitHoldError as exc:
            held = ClientRateLimitError(
                f"not sent: {exc}, and the call may not wait that long "
                "(its timeout, or max_rate_limit_wait)",
                retry_after=exc.wait,
                method=call.req.method,
                url=call.url_text,
                attempts=attempt - 1,
            )
            if call.write:
                settle_state(held, None, promotes=call.req.promotes)
                if call.mark is not None:
                    call.mark.clear()
            raise held from None

    async def _attempt(
        self, call: _Call, seq: int, attempt: int, sent_wall: float | None
    ) -> tuple[Any, Any, float | None]:
        """One attempt, the budget's ``seq`` released whatever happens: ``(reply, None,
        sent_wall)`` for a 2xx, ``(reply or None, error, sent_wall)`` otherwise;
        ``sent_wall`` is when a write's attempt last left (wall clock)."""
        req, hooks, mark = call.req, self._hooks, call.mark
        started = 0.0
        info = None
        response: TransportResponse | None = None
        error: APIError | None
        try:
            if hooks is not None:  # inside the try: the budget is released whatever
                started = self.clock()
                await hooks.on_request(  # raises APITimeoutError past the deadline
                    RequestEvent(req.method, req.path, path_template(req.path), attempt, started),
                    call.deadline,
                    call.url_text,
                )
            if call.write:
                sent_wall = self.wall_clock()
                if mark is not None:
                    mark.mark(sent_wall, self.clock())
            if hooks is not None:
                started = self.clock()
            timeout = self._timeout_for(call.deadline)
            response = await self.transport.send(
                TransportRequest(req.method, call.url, call.headers, req.body, timeout, call.cap)
            )
            info = parse_rate_limit(response.headers, now=self.wall_clock())
        except APIError as exc:
            exc.attempts = attempt  # raised by the transport (or a hook), which cannot count
            error = exc
        except RuntimeError:  # refused before sending (e.g. a session of another loop)
            if mark is not None:
                mark.clear()
            raise
        finally:
            self.budget.release(call.bucket, seq, info, replied=response is not None)
        if response is not None:
            error = None
            if not 200 <= response.status < 300:
                error = error_from_response(
                    response, method=req.method, url=call.url_text, attempts=attempt
                )
        if hooks is not None:
            duration = self.clock() - started
            event = response_event(req.method, req.path, attempt, response, duration, error)
            await hooks.on_response(event, call.deadline)
        if error is None and response is not None and logger.isEnabledFor(logging.DEBUG):
            _log_attempt(req, attempt, response.status, response.request_id, None)
        return response, error, sent_wall

    def _retry_wait(
        self,
        call: _Call,
        error: APIError,
        response: TransportResponse | None,
        attempt: int,
        schedule: Any,
    ) -> float | None:
        """How long to wait before retrying after ``error`` (logged), or ``None``: raise."""
        req, deadline = call.req, call.deadline
        wait = self.policy.decide(
            error, idempotent=req.idempotent, retries_done=attempt - 1, schedule=schedule
        )
        if wait is not None and deadline is not None and self.clock() + wait >= deadline:
            logger.warning(
                "%s %s: not retrying after %s: the next attempt would start after the "
                "call's timeout",
                req.method,
                req.path,
                _short(error),
            )
            wait = None
        if logger.isEnabledFor(logging.DEBUG):
            status = response.status if response is not None else _short(error)
            rid = response.request_id if response is not None else None
            _log_attempt(req, attempt, status, rid, wait)
        if wait is not None:
            logger.warning(
                "%s %s failed (%s); retry %d of %d in %.2fs",
                req.method,
                req.path,
                _short(error),
                attempt,
                self.policy.max_retries,
                wait,
            )
        return wait

    def max_hold(self) -> float | None:
        """``max_rate_limit_wait`` when the policy sets it: the longest a fan-out queues
        for the budget before a call (``None``: as long as the API says)."""
        cap: float | None = getattr(self.policy, "max_rate_limit_wait", None)
        return cap

    def _hold_deadline(self, deadline: float | None) -> float | None:
        """The latest time a rate-limit hold may end: the call's deadline, and no later
        than ``max_rate_limit_wait`` from now when the policy sets it."""
        cap = self.max_hold()
        if cap is None:
            return deadline
        latest = self.clock() + cap
        return latest if deadline is None else min(deadline, latest)

    def _timeout_for(self, deadline: float | None) -> float | None:
        if deadline is None:
            return self._attempt_timeout
        return max(deadline - self.clock(), 0.001)


class _Call(NamedTuple):
    """What every attempt of one call shares: the request, the URL (with and without the
    query), the headers, the reply size cap, the deadline and, for a write (promotion
    accounting: when an attempt may have reached the API), the caller's mark."""

    req: Request
    url: str
    url_text: str
    headers: AuthorizedHeaders
    cap: int
    deadline: float | None
    write: bool
    bucket: str
    mark: Send | None


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

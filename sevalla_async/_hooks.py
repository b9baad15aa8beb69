"""Event hooks: what a client tells observers (metrics, tracing) about every attempt.

Following httpx's ``event_hooks`` convention, ``SevallaClient(event_hooks={"request":
[...], "response": [...]})`` takes lists of callables; each is called once per *attempt*
(a retried call gives one pair of events per attempt) with a :class:`RequestEvent` just
before the attempt is sent and a :class:`ResponseEvent` when it has ended (a reply, or a
failure without one). A hook may be a plain function or an ``async def``: its result is
awaited when it is awaitable.

Hooks observe; they cannot change the call. An exception raised by a hook is logged (the
``sevalla_async`` logger, level WARNING, with its traceback) and otherwise ignored, so a
broken metrics exporter never turns a promotion that happened into an error, nor leaves
the rate-limit budget or a promotion's accounting half-done. ``asyncio.CancelledError``
(not an ``Exception``) is never swallowed.

Hooks run under the call's deadline (its ``timeout``), on the client's ``clock`` and
``sleep``: an ``async`` hook still running when the deadline comes is cancelled and
logged (WARNING, naming the hook), never a hang.

- A ``request`` hook that runs out the call's time stops the call before anything is
  sent: it raises :class:`APITimeoutError` with ``request_sent=False`` (a promote's
  ``promotion_state`` is ``not_sent``).
- A ``response`` hook cannot undo what the API did: a late one is cancelled and logged,
  and the attempt's outcome stands (a promotion that succeeded is returned). Response
  hooks get at least :data:`RESPONSE_HOOK_GRACE` seconds, so the event of an attempt
  that ended at the deadline is still reported.

A plain function cannot be interrupted; it runs to its end. With ``timeout=None`` (or
only a per-attempt :class:`aiohttp.ClientTimeout`) the call has no deadline and neither
do its hooks. With no hooks registered the request loop does no extra work.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypedDict

import attrs

from ._errors import APIError, APITimeoutError
from ._wire import TransportResponse

__all__ = [
    "RESPONSE_HOOK_GRACE",
    "EventHooks",
    "Hooks",
    "RequestEvent",
    "RequestHook",
    "ResponseEvent",
    "ResponseHook",
    "path_template",
    "response_event",
]

logger = logging.getLogger("sevalla_async")

RESPONSE_HOOK_GRACE = 1.0
"""Seconds response hooks may run even once the call's deadline has passed."""

# Turns of the event loop an async hook gets before its time starts to count.
_FREE_TURNS = 3

_ID_SEGMENT = re.compile(
    r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?=/|$)"
)


def path_template(path: str) -> str:
    """``path`` with every id segment replaced by ``{id}``: a label of bounded
    cardinality (``/pipelines/1f.../promote`` -> ``/pipelines/{id}/promote``)."""
    return _ID_SEGMENT.sub("/{id}", path)


@attrs.frozen(slots=True)
class RequestEvent:
    """An attempt is about to be sent.

    Attributes:
        method: the HTTP method (``"POST"``).
        path: the path relative to the base URL, without the query
            (``/pipelines/0d4f.../promote``).
        path_template: ``path`` with ids replaced by ``{id}``
            (``/pipelines/{id}/promote``): use it as a metric label.
        attempt: 1 for the first attempt of a call, 2 for its first retry, ...
        started_at: when the attempt starts, on the client's monotonic ``clock``.
    """

    method: str
    path: str
    path_template: str
    attempt: int
    started_at: float


@attrs.frozen(slots=True)
class ResponseEvent:
    """An attempt has ended: a reply came (any status), or it failed without one.

    Attributes:
        method, path, path_template, attempt: as on :class:`RequestEvent`.
        status_code: the reply's HTTP status, or ``None`` when no reply came (connection
            refused or lost, timeout).
        request_id: the reply's ``x-request-id``, or ``None``.
        duration: seconds from sending to the end of the attempt, on the client's
            ``clock`` (so a test's fake clock gives exact figures).
        error: what failed this attempt: the :class:`APIStatusError` of a non-2xx reply,
            or the :class:`APIConnectionError` when no reply came; ``None`` for a 2xx reply.
            The call may still succeed on a later attempt.
    """

    method: str
    path: str
    path_template: str
    attempt: int
    status_code: int | None
    request_id: str | None
    duration: float
    error: APIError | None = None


def response_event(
    method: str,
    path: str,
    attempt: int,
    response: TransportResponse | None,
    duration: float,
    error: APIError | None,
) -> ResponseEvent:
    """The :class:`ResponseEvent` of one attempt (``response`` ``None``: no reply)."""
    status = None if response is None else response.status
    rid = None if response is None else response.request_id
    return ResponseEvent(method, path, path_template(path), attempt, status, rid, duration, error)


class RequestHook(Protocol):
    """A ``request`` hook: a function or ``async def`` taking a :class:`RequestEvent`
    (its return value, awaited when awaitable, is ignored)."""

    def __call__(self, event: RequestEvent, /) -> object: ...


class ResponseHook(Protocol):
    """A ``response`` hook: a function or ``async def`` taking a :class:`ResponseEvent`
    (its return value, awaited when awaitable, is ignored)."""

    def __call__(self, event: ResponseEvent, /) -> object: ...


class EventHooks(TypedDict, total=False):
    """The ``event_hooks`` argument of :class:`SevallaClient`: lists of hooks by event."""

    request: Sequence[RequestHook]
    response: Sequence[ResponseHook]


class Hooks:
    """The checked hooks of one client family (the client and its ``with_options``
    copies share them), with the clock and sleep that bound them."""

    __slots__ = ("_clock", "_sleep", "request_hooks", "response_hooks")

    def __init__(
        self,
        request: Sequence[RequestHook] = (),
        response: Sequence[ResponseHook] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.request_hooks: tuple[RequestHook, ...] = tuple(request)
        self.response_hooks: tuple[ResponseHook, ...] = tuple(response)
        self._clock = clock
        self._sleep = sleep

    @classmethod
    def check(
        cls,
        config: EventHooks | Mapping[str, object] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> Hooks | None:
        """``event_hooks`` as given to the client, checked; ``None`` when there is none
        (then the request loop skips the hooks entirely)."""
        if config is None:
            return None
        if not isinstance(config, Mapping):
            raise ValueError(
                "event_hooks: expected a dict like {'request': [...], 'response': [...]}"
            )
        unknown = sorted(set(config) - {"request", "response"})
        if unknown:
            raise ValueError(
                f"event_hooks: unknown event {unknown[0]!r} (expected 'request' or 'response')"
            )
        lists: dict[str, tuple[Any, ...]] = {}
        for name in ("request", "response"):
            given: object = config.get(name, ())
            if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
                raise ValueError(f"event_hooks[{name!r}]: expected a list of callables")
            for hook in given:
                if not callable(hook):
                    raise ValueError(f"event_hooks[{name!r}]: {hook!r} is not callable")
            lists[name] = tuple(given)
        if not lists["request"] and not lists["response"]:
            return None
        return cls(lists["request"], lists["response"], clock=clock, sleep=sleep)

    async def on_request(self, event: RequestEvent, deadline: float | None, url: str) -> None:
        """Call every request hook with ``event`` before ``deadline`` (on the clock);
        one still running then is cancelled and :class:`APITimeoutError` raised (nothing
        was sent to ``url``)."""
        for hook in self.request_hooks:
            if not await self._call(hook, event, deadline):
                raise APITimeoutError(
                    f"the call's timeout ran out in event hook {_name(hook)}, before the "
                    "request was sent",
                    request_sent=False,
                    method=event.method,
                    url=url,
                )

    async def on_response(self, event: ResponseEvent, deadline: float | None) -> None:
        """Call every response hook with ``event`` before ``deadline`` (at least
        :data:`RESPONSE_HOOK_GRACE` seconds from now); a late one is cancelled, logged."""
        limit = None if deadline is None else max(deadline, self._clock() + RESPONSE_HOOK_GRACE)
        for hook in self.response_hooks:
            await self._call(hook, event, limit)

    async def _call(
        self,
        hook: Callable[[Any], object],
        event: RequestEvent | ResponseEvent,
        limit: float | None,
    ) -> bool:
        """Call ``hook``; False when it was still running at ``limit`` (then cancelled)."""
        try:
            result = hook(event)
            if inspect.isawaitable(result):
                if limit is None:
                    await result
                else:
                    return await self._bounded(hook, event, result, limit)
        except Exception:  # an observer's failure is not the call's; CancelledError passes
            logger.warning(
                "event hook %s raised on %s %s (attempt %d); ignored",
                _name(hook),
                event.method,
                event.path_template,
                event.attempt,
                exc_info=True,
            )
        return True

    async def _bounded(
        self,
        hook: Callable[[Any], object],
        event: RequestEvent | ResponseEvent,
        result: Awaitable[Any],
        limit: float,
    ) -> bool:
        task = asyncio.ensure_future(result)
        timer: asyncio.Future[Any] | None = None
        try:
            # Most hooks wait on nothing and finish in the turns they are given before
            # their time starts to count: no timer then. (Under a virtual clock the clock
            # jumps as soon as only sleepers are left: such a hook must not lose to it.)
            for _ in range(_FREE_TURNS):
                await asyncio.sleep(0)
                if task.done():
                    break
            else:
                timer = asyncio.ensure_future(self._sleep(max(0.0, limit - self._clock())))
                await asyncio.wait((task, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when the call itself is cancelled
            if timer is not None:
                timer.cancel()
            if not task.done():
                task.cancel()
                _abandoned.add(task)
                task.add_done_callback(_forget)
        if task.done():
            task.result()  # the hook's own exception, if any, goes to _call
            return True
        logger.warning(
            "event hook %s was still running at the call's deadline on %s %s (attempt %d); "
            "cancelled",
            _name(hook),
            event.method,
            event.path_template,
            event.attempt,
        )
        return False


# Cancelled hooks not waited for: kept referenced until they end, their outcome read.
_abandoned: set[asyncio.Future[Any]] = set()


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a hook that failed while cancelled is not an error


def _name(hook: object) -> str:
    return str(getattr(hook, "__qualname__", None) or repr(hook))

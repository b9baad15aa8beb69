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

With no hooks registered the request loop does no extra work.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypedDict

import attrs

from ._errors import APIError

__all__ = [
    "EventHooks",
    "Hooks",
    "RequestEvent",
    "RequestHook",
    "ResponseEvent",
    "ResponseHook",
    "path_template",
]

logger = logging.getLogger("sevalla_async")

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
    copies share them)."""

    __slots__ = ("request_hooks", "response_hooks")

    def __init__(
        self, request: Sequence[RequestHook] = (), response: Sequence[ResponseHook] = ()
    ) -> None:
        self.request_hooks: tuple[RequestHook, ...] = tuple(request)
        self.response_hooks: tuple[ResponseHook, ...] = tuple(response)

    @classmethod
    def check(cls, config: EventHooks | Mapping[str, object] | None) -> Hooks | None:
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
        return cls(lists["request"], lists["response"])

    async def on_request(self, event: RequestEvent) -> None:
        """Call every request hook with ``event``."""
        for hook in self.request_hooks:
            await _call(hook, event)

    async def on_response(self, event: ResponseEvent) -> None:
        """Call every response hook with ``event``."""
        for hook in self.response_hooks:
            await _call(hook, event)


async def _call(hook: Callable[[Any], object], event: RequestEvent | ResponseEvent) -> None:
    try:
        result = hook(event)
        if inspect.isawaitable(result):
            await result
    except Exception:  # an observer's failure is not the call's; CancelledError passes
        logger.warning(
            "event hook %s raised on %s %s (attempt %d); ignored",
            getattr(hook, "__qualname__", repr(hook)),
            event.method,
            event.path_template,
            event.attempt,
            exc_info=True,
        )

"""One way for a resource to send a request and for its ``with_raw_response`` view to
keep the reply.

A resource (:class:`Resource`) sends every single request through :meth:`Resource._call`,
which returns the result and the 2xx reply it was decoded from. Its raw view
(:class:`RawView`) runs the resource's plain method on a recording copy of the resource
(the copy's ``_call`` also drops each reply in a list), and wraps the result and the last
reply in an :class:`APIResponse`: the view repeats no method's body, and the plain
methods pay nothing for it but one ``is None`` test a request.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from .._response import APIResponse

if TYPE_CHECKING:
    from .._core import Core
    from .._protocol import Request
    from .._record import Send
    from .._wait import Waiter
    from .._wire import TransportResponse

__all__ = ["RawView", "Resource"]

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound="Resource")


class Resource:
    """What every resource shares: the client's core and waiter, its raw view, and
    :meth:`_call`."""

    _replies: list[TransportResponse] | None = None  # set on a raw view's recording copy

    def __init__(self, core: Core, waiter: Waiter) -> None:
        self._core = core
        self._waiter = waiter
        self.with_raw_response: RawView[Any] = self._raw_view()

    def _raw_view(self) -> RawView[Any]:
        raise NotImplementedError

    async def _call(
        self, req: Request, into: type[T], *, send: Send | None = None
    ) -> tuple[T, TransportResponse]:
        """Send ``req`` (retries, rate limit, decoding: the core's) and return the result
        structured as ``into`` with the reply it came from; ``send`` notes on the caller's
        write record when a write left."""
        result, reply = await self._core.request_with_reply(req, into, send=send)
        if self._replies is not None:
            self._replies.append(reply)
        return result, reply

    def _recording(self, replies: list[TransportResponse]) -> Any:
        """A copy of this resource whose requests also land in ``replies``."""
        twin = copy.copy(self)
        twin._replies = replies
        return twin


class RawView(Generic[S]):
    """``resource.with_raw_response``: each method runs the resource's plain method and
    returns its result with the reply of its (one) request."""

    __slots__ = ("_resource",)

    def __init__(self, resource: S) -> None:
        self._resource = resource

    async def _with_reply(
        self,
        method: Callable[Concatenate[S, P], Awaitable[R]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> APIResponse[R]:
        replies: list[TransportResponse] = []
        result = await method(self._resource._recording(replies), *args, **kwargs)
        return APIResponse(result, replies[-1])

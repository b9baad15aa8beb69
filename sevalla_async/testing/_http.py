"""The fake's own small HTTP vocabulary, free of any server framework: the request a route
sees, the reply it gives, the router, error replies and input checks."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs
from multidict import CIMultiDictProxy

from .._ids import is_api_uuid
from ._state import State

__all__ = [
    "Dispatch",
    "Dropped",
    "FakeAPIError",
    "FakeRequest",
    "Incoming",
    "Reply",
    "Route",
    "error_body",
    "error_reply",
    "int_query",
    "json_reply",
    "page_query",
    "path_uuid",
    "read_json",
]

_SUPPORT = "If you need assistance, please contact support and provide this error code."


@attrs.frozen
class Incoming:
    """One request as it reaches the fake, from a socket or from memory."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes


@attrs.frozen
class FakeRequest:
    """What a route sees: the decoded path's parameters, the query, headers and body."""

    state: State
    params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@attrs.define
class Reply:
    """What a route (or a fault) answers: status, headers and body."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    chunked: bool = False


@attrs.frozen
class Dropped:
    """The fake closes the connection without a reply (``acted``: after acting on it)."""

    acted: bool


class Dispatch(Protocol):
    """``FakeSevalla.dispatch``: one request in, a reply (or a dropped connection) out."""

    def __call__(
        self, request: Incoming, *, wait: Callable[[float], Awaitable[None]]
    ) -> Awaitable[Reply | Dropped]: ...


@attrs.frozen
class Route:
    """``method`` and a path pattern with ``{name}`` parameters, and the function serving
    it."""

    method: str
    pattern: str
    handler: Callable[[FakeRequest], Reply]
    regex: re.Pattern[str] = attrs.field(init=False)

    @regex.default
    def _compile(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern) + "$")


def error_body(status: int, message: str) -> dict[str, Any]:
    """The API's error body: ``{message, status, data: {code, message}}``."""
    return {
        "message": message,
        "status": status,
        "data": {"code": f"err-fake-{secrets.token_hex(4)}", "message": _SUPPORT},
    }


class FakeAPIError(Exception):
    """Raised by a route to answer with the API's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Reply:
        return error_reply(self.status, self.message)


def json_reply(data: Any, *, status: int = 200) -> Reply:
    return Reply(
        status,
        json.dumps(data, separators=(",", ":")).encode(),
        {"Content-Type": "application/json"},
    )


def error_reply(status: int, message: str) -> Reply:
    """A reply with this status and the API's error body saying ``message``."""
    return json_reply(error_body(status, message), status=status)


def path_uuid(request: FakeRequest, name: str) -> uuid.UUID:
    value = request.params[name]
    if not is_api_uuid(value):
        raise FakeAPIError(400, f'params/{name} must match format "uuid"')
    return uuid.UUID(value)


def int_query(request: FakeRequest, name: str, default: int, low: int, high: int) -> int:
    """The integer query parameter ``name`` (``default`` when absent), from ``low`` to
    ``high``, as the spec checks it."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FakeAPIError(400, f"querystring/{name} must be integer") from None
    if not low <= value <= high:
        raise FakeAPIError(400, f"querystring/{name} must be >= {low} and <= {high}")
    return value


def page_query(request: FakeRequest) -> tuple[int, int]:
    """``limit`` (1-100, default 25) and ``offset`` (0-10000, default 0), as the spec."""
    return int_query(request, "limit", 25, 1, 100), int_query(request, "offset", 0, 0, 10_000)


def read_json(request: FakeRequest) -> Any:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise FakeAPIError(415, f"Unsupported Media Type: {content_type or 'none'}")
    try:
        return json.loads(request.body)
    except ValueError:
        raise FakeAPIError(400, "Body is not valid JSON") from None

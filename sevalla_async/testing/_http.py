"""Helpers shared by the fake's route modules: error replies and input checks."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from aiohttp import web

from .._ids import is_api_uuid
from ._state import State

__all__ = ["STATE", "FakeAPIError", "error_body", "json_reply", "path_uuid", "read_json"]

STATE = web.AppKey("sevalla_fake_state", State)

_SUPPORT = "If you need assistance, please contact support and provide this error code."


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

    def response(self) -> web.Response:
        return json_reply(error_body(self.status, self.message), status=self.status)


def json_reply(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def path_uuid(request: web.Request, name: str) -> uuid.UUID:
    value = request.match_info[name]
    if not is_api_uuid(value):
        raise FakeAPIError(400, f'params/{name} must match format "uuid"')
    return uuid.UUID(value)


def page_query(request: web.Request) -> tuple[int, int]:
    """``limit`` (1-100, default 25) and ``offset`` (0-10000, default 0), as the spec."""
    out = []
    for name, default, low, high in (("limit", 25, 1, 100), ("offset", 0, 0, 10_000)):
        raw = request.query.get(name)
        if raw is None:
            out.append(default)
            continue
        try:
            value = int(raw)
        except ValueError:
            raise FakeAPIError(400, f"querystring/{name} must be integer") from None
        if not low <= value <= high:
            raise FakeAPIError(400, f"querystring/{name} must be >= {low} and <= {high}")
        out.append(value)
    return out[0], out[1]


async def read_json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise FakeAPIError(415, f"Unsupported Media Type: {request.content_type or 'none'}")
    raw = await request.read()
    try:
        return json.loads(raw)
    except ValueError:
        raise FakeAPIError(400, "Body is not valid JSON") from None

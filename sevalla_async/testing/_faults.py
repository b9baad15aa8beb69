"""Scripted faults: what the fake does instead of (or after) answering normally."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

__all__ = ["Fault", "FaultQueue"]


@attrs.frozen
class Fault:
    """One scripted misbehaviour of :class:`FakeSevalla`.

    Attributes:
        status: answer with this status instead of the real reply (``None``: real reply).
        body: the reply body: a dict/list (sent as JSON), ``str`` or ``bytes`` (sent as is);
            default: the API's error body for ``status``.
        headers: extra reply headers (e.g. ``{"Retry-After": "2"}``).
        delay: seconds to wait before answering (real time: use it to trip timeouts).
        drop: close the connection without a reply, ``"before"`` acting on the request or
            ``"after"`` acting on it (a promotion made, its reply lost).
        after_handling: with ``status``, act on the request first, then answer with the
            fault (a 500 after the promotion happened).
        chunked: send the body with chunked transfer encoding (no ``Content-Length``).
        act_on: for a promote that acts (``after_handling``, ``drop="after"``, ``stall``):
            deploy only these targets (``None``: every target).
        late: for a promote that acts, its deployments appear this many seconds (of the
            fake's clock) after the reply.
        stall: act, then hold the reply this many real seconds and drop the connection
            (to outlast the client's timeout).
    """

    status: int | None = None
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    drop: Literal["before", "after"] | None = None
    after_handling: bool = False
    chunked: bool = False
    act_on: frozenset[uuid.UUID] | None = None
    late: float = 0.0
    stall: float = 0.0

    @property
    def acts(self) -> bool:
        """True when the fake acts on the request before failing (or answering)."""
        return self.status is None or self.after_handling or self.drop == "after"

    def promote_plan(self) -> tuple[frozenset[uuid.UUID] | None, float] | None:
        """``(targets, late)`` for the promote it acts on, or ``None`` for a plain one."""
        if self.act_on is None and not self.late:
            return None
        return self.act_on, self.late

    @classmethod
    def act_then_fail(
        cls,
        then: Literal["error", "disconnect", "stall"] = "error",
        *,
        targets: Iterable[uuid.UUID | str] | None = None,
        status: int = 500,
        late: float = 0.0,
        stall: float = 1.0,
    ) -> Fault:
        """Make the promotion (of every target, or only ``targets``; its deployments
        ``late`` seconds later), then fail: a ``status`` error reply, a dropped connection,
        or a reply held ``stall`` real seconds (past the client's timeout) then dropped."""
        act_on = None if targets is None else frozenset(uuid.UUID(str(t)) for t in targets)
        if then == "error":
            return cls(status=status, after_handling=True, act_on=act_on, late=late)
        if then == "disconnect":
            return cls(drop="after", act_on=act_on, late=late)
        if then == "stall":
            return cls(stall=stall, act_on=act_on, late=late)
        raise ValueError(f"then: expected 'error', 'disconnect' or 'stall', got {then!r}")

    @classmethod
    def fail_without_acting(
        cls,
        then: Literal["error", "disconnect", "stall"] = "error",
        *,
        status: int = 500,
        stall: float = 1.0,
    ) -> Fault:
        """Fail without making the promotion: a ``status`` error, a dropped connection, or
        a silence of ``stall`` real seconds then a dropped connection."""
        if then == "error":
            return cls(status=status)
        if then == "disconnect":
            return cls(drop="before")
        if then == "stall":
            return cls(delay=stall, drop="before")
        raise ValueError(f"then: expected 'error', 'disconnect' or 'stall', got {then!r}")

    @classmethod
    def error(cls, status: int, message: str | None = None, **kwargs: Any) -> Fault:
        """An error reply with the API's error body."""
        body = {"message": message, "status": status} if message else None
        return cls(status=status, body=body, **kwargs)

    @classmethod
    def rate_limited(
        cls, retry_after: float | str | None = 1, *, reset: float | None = None
    ) -> Fault:
        """A 429 as the API sends it: ``Retry-After`` (seconds, or an HTTP date when a
        string is given) and the ``x-ratelimit-*`` headers of a spent budget that resets in
        ``reset`` seconds (default: ``retry_after`` when it is a number). With
        ``retry_after=None`` only ``x-ratelimit-reset`` says how long to wait."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = _fmt(retry_after)
        if reset is None and isinstance(retry_after, (int, float)):
            reset = retry_after
        if reset is not None:
            headers["x-ratelimit-remaining"] = "0"
            headers["x-ratelimit-reset"] = _fmt(reset)
        return cls(status=429, headers=headers)

    @classmethod
    def disconnect(cls, when: Literal["before", "after"] = "before") -> Fault:
        """Drop the connection without answering."""
        return cls(drop=when)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, ``seconds`` late."""
        return cls(delay=seconds)

    @classmethod
    def malformed(cls, body: Any = "<html>oops</html>", status: int = 200) -> Fault:
        """A reply whose body is not what the API promises."""
        return cls(status=status, body=body)

    def render_body(self, default: Mapping[str, Any]) -> bytes:
        """The reply body as bytes; ``default`` (the API's error body) when none is set."""
        body = default if self.body is None else self.body
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            return body.encode()
        return json.dumps(body).encode()


def _fmt(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


@attrs.define
class _Scripted:
    fault: Fault
    remaining: int
    method: str | None
    path: str | None


class FaultQueue:
    """Faults waiting for the requests they match, first scripted first served."""

    def __init__(self) -> None:
        self._items: list[_Scripted] = []

    def add(self, fault: Fault, times: int, method: str | None, path: str | None) -> None:
        if times < 1:
            raise ValueError(f"times: must be >= 1, got {times!r}")
        self._items.append(_Scripted(fault, times, method.upper() if method else None, path))

    def take(self, method: str, path: str) -> Fault | None:
        for item in self._items:
            if item.method not in (None, method) or not path.endswith(item.path or ""):
                continue
            item.remaining -= 1
            if item.remaining == 0:
                self._items.remove(item)
            return item.fault
        return None

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return sum(i.remaining for i in self._items)

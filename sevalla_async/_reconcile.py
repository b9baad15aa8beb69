"""Reconciliation: was an ``unknown`` promotion made? Decided from each target's history.

The evidence rules are pure functions in :mod:`._evidence` (:func:`judge_target`, whose
docstring states them); :class:`Reconciler` is the thin driver that reads the deployment
lists through the client's request function (GETs: the read budget, never the write
budget), and :func:`resolve` settles an ``unknown`` promotion with it.

Reading: the source's history back to its last success before the send (on every clock the
reads suggest), a target's back past the window's start; a list is read further, to its
end (within :data:`_MAX_PAGES`), when its ``created_at`` are not newest first. Time since
the send is measured on the monotonic clock too when the caller knows the monotonic time of
the send (``sent_clock``): a step of the wall clock then neither ends the settle period nor
moves the window. A read that fails leaves ``None``, never ``False``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Protocol, TypeVar

from . import _protocol
from ._errors import APIError
from ._evidence import (
    Build,
    Evidence,
    History,
    Reply,
    Window,
    clock_offsets,
    judge_target,
    newest_first,
    server_offset,
)
from ._models import Deployment, PromoteRequest, TargetVerdict
from ._replies import DeploymentPage
from ._wire import TransportResponse

T = TypeVar("T")

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_SETTLE",
    "Build",
    "Reconciler",
    "Window",
    "judge_target",
    "server_offset",
]

DEFAULT_SETTLE = 120.0
"""Seconds after ``sent_at`` before a target may be called not promoted: longer than the
client's default timeout (30 s) and the time the API takes to act on a promote it received."""

DEFAULT_MARGIN = 5.0
"""Seconds of slack on each side of the window: the ``Date`` header's one-second resolution
and the latency of the read that measured the clock offset."""

_PAGE = 100
_MAX_PAGES = 20

_Enough = Callable[[Sequence[Deployment], Sequence[Reply]], bool]


class Reads(Protocol):
    """What reconciliation needs of the client's core: a GET decoded with its reply."""

    async def request_with_reply(
        self, req: _protocol.Request, into: type[T], *, deadline: float | None = None
    ) -> tuple[T, TransportResponse]: ...


class Reconciler:
    """Reads the evidence for one request and judges each target (one look, no waiting).

    ``wall``: the Unix time; ``clock``: the client's monotonic clock (needed for the
    ``sent_clock`` of :meth:`look`).
    """

    def __init__(
        self,
        core: Reads,
        wall: Callable[[], float],
        *,
        settle: float = DEFAULT_SETTLE,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._core = core
        self._wall = wall
        self._clock = clock
        self.settle = settle
        self.margin = margin
        # per (source, sent_at): the source's history and the replies it came in
        self._sources: dict[tuple[uuid.UUID, datetime], tuple[History, list[Reply]]] = {}

    def _elapsed(self, sent_at: datetime, sent_clock: float | None) -> tuple[float, float]:
        """Seconds since the send: on the monotonic clock when ``sent_clock`` is known
        (else the wall's), and the smaller of that and the wall's (for the settle period)."""
        wall = self._wall() - sent_at.timestamp()
        if sent_clock is None or self._clock is None:
            return wall, wall
        steady = self._clock() - sent_clock
        return steady, min(steady, wall)

    async def _read(
        self, app_id: uuid.UUID, sent_at: datetime, sent_clock: float | None, enough: _Enough
    ) -> tuple[History, list[Reply]]:
        """Pages of the app's history until ``enough`` says so (and they are newest first),
        to its end, or to the page cap."""
        found: list[Deployment] = []
        replies: list[Reply] = []
        ordered = True
        for _ in range(_MAX_PAGES):
            page, reply = await self._core.request_with_reply(
                _protocol.list_deployments_request(app_id, limit=_PAGE, offset=len(found)),
                DeploymentPage,
            )
            replies.append(Reply.of(reply.headers, self._elapsed(sent_at, sent_clock)[0]))
            ordered = ordered and newest_first(page.data, found[-1] if found else None)
            found.extend(page.data)
            if len(found) >= page.total:
                return History(found, True, ordered), replies
            if not page.data:  # fewer than its total: cannot read the rest
                break
            if ordered and enough(found, replies):
                break
        return History(found, False, ordered), replies

    def _earliest(self, sent_at: datetime, replies: Sequence[Reply]) -> datetime:
        """The earliest the send can be on the server's clock: the client's clock and every
        offset the replies show."""
        return sent_at + timedelta(seconds=min(0.0, *clock_offsets(replies, sent_at.timestamp())))

    async def _source(
        self, app_id: uuid.UUID, sent_at: datetime, sent_clock: float | None
    ) -> tuple[History, list[Reply]]:
        """The source's history back to its latest success before the send (cached)."""
        key = (app_id, sent_at)
        cached = self._sources.get(key)
        if cached is None:

            def enough(found: Sequence[Deployment], replies: Sequence[Reply]) -> bool:
                before = self._earliest(sent_at, replies)
                return any(
                    d.succeeded and d.finished_at is not None and d.finished_at <= before
                    for d in found
                )

            cached = self._sources[key] = await self._read(app_id, sent_at, sent_clock, enough)
        return cached

    async def look(
        self,
        request: PromoteRequest,
        sent_at: datetime,
        targets: Sequence[uuid.UUID] | None = None,
        *,
        sent_clock: float | None = None,
    ) -> list[TargetVerdict]:
        """One verdict per target of ``request`` (or of ``targets``), in target order.
        ``sent_clock``: the monotonic time of the send, when known (this process sent it).
        The source's history is read once per request and reused by later looks."""
        if sent_clock is not None and self._clock is None:
            raise ValueError("sent_clock: the Reconciler was given no monotonic clock")
        if targets is None:
            targets = request.target_app_ids
        try:
            source, source_replies = await self._source(request.source_app_id, sent_at, sent_clock)
        except APIError as exc:
            why = f"could not read the source app's deployments: {exc.message}"
            return [TargetVerdict(t, None, None, why) for t in targets]
        verdicts = []
        for target in targets:
            try:
                history, replies = await self._target(target, sent_at, sent_clock, source_replies)
            except APIError as exc:
                why = f"could not read the target's deployments: {exc.message}"
                verdicts.append(TargetVerdict(target, None, None, why))
                continue
            elapsed = self._elapsed(sent_at, sent_clock)[1]
            evidence = Evidence(
                sent_at, source, history, source_replies, replies, elapsed, self.settle, self.margin
            )
            verdicts.append(judge_target(target, evidence))
        return verdicts

    async def _target(
        self,
        app_id: uuid.UUID,
        sent_at: datetime,
        sent_clock: float | None,
        source_replies: Sequence[Reply],
    ) -> tuple[History, list[Reply]]:
        """The target's history back past the window's start on every clock."""

        def enough(found: Sequence[Deployment], replies: Sequence[Reply]) -> bool:
            start = self._earliest(sent_at, [*source_replies, *replies])
            return found[-1].created_at < start - timedelta(seconds=self.margin)

        return await self._read(app_id, sent_at, sent_clock, enough)


DEFAULT_RECONCILE_TIMEOUT = 300.0
"""Seconds ``reconcile=True`` keeps looking before raising :class:`PromotionUnresolvedError`."""


def check_reconcile_options(
    settle: float, timeout: float, *, settle_name: str = "reconcile_settle"
) -> None:
    """``ValueError`` naming the option, before anything is sent."""
    for name, value in ((settle_name, settle), ("reconcile_timeout", timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name}: must be a number of seconds >= 0, got {value!r}")
    if settle > MAX_SETTLE:  # a window past the calendar's end cannot be computed
        raise ValueError(f"{settle_name}: must be at most 1e9 seconds, got {settle!r}")


MAX_SETTLE = 1e9
"""The longest settle period (about 31 years; ``inf`` is refused: windows are dates)."""

_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def plausible_sent_at(sent_at: datetime) -> bool:
    """Whether the aware ``sent_at`` is a time a request can have been sent (1970 to 9000):
    far outside, a window's dates would overflow."""
    try:
        return _EARLIEST <= sent_at <= _LATEST
    except OverflowError:  # the year 1 or 9999 with an offset past the calendar
        return False

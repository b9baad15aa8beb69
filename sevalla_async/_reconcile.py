"""Reconciliation: was an ``unknown`` promotion made? Decided from each target's history.

The rules are pure functions over deployment lists (:func:`judge_target`,
:func:`source_build`); :class:`Reconciler` is the thin driver that reads the lists through
the client's request function (GETs: the read budget, never the write budget).

The evidence for "target T was promoted by the request sent at ``sent_at``" is a deployment
of T that is:

- created inside the window ``[sent_at - margin, sent_at + settle + margin]``, with
  ``sent_at`` moved to the server's clock by the offset the ``Date`` header of the reads
  shows (client and API clocks disagree);
- ``manual`` and not a rollback or restart (a git push's ``automatic`` deployment of the
  same build can land in the window; it is not the promotion);
- of the same build (``commit_sha`` and ``docker_image_url``) as the source app's latest
  successful deployment created before the request (a person's manual deployment of
  another build is not the promotion).

"Not promoted" (``False``) needs more: no such deployment, the settle period after
``sent_at`` over (the API may still create the deployments of a request it was processing
when the client gave up), and the history read back past the window's start (it pages most
recent first; reading stops at the first entry older than the window). A read that fails
leaves ``None``, never ``False``.

A ``Date`` header can lie (a caching proxy, a misconfigured front end), and a window moved
by a wrong offset would miss the promotion and call it not made: it would then be made
twice. So the same rules are also applied with no offset, on the client's own clock (the
window there, and the source's build as of that window): a promotion found only on the
client's clock makes the verdict ``None``, undecided, so nothing is sent again. (A real
skew, where the ``Date`` is right, leaves the client-clock window empty of such evidence:
it changes nothing then.)
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

import attrs

from . import _protocol
from ._errors import APIError
from ._models import Deployment, PromoteRequest, Promotion, TargetVerdict
from ._outcomes import PromotionState
from ._transport import TransportResponse

T = TypeVar("T")

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_SETTLE",
    "Build",
    "Reconciler",
    "judge_target",
    "server_offset",
    "source_build",
]

DEFAULT_SETTLE = 120.0
"""Seconds after ``sent_at`` before a target may be called not promoted: longer than the
client's default timeout (30 s) and the time the API takes to act on a promote it received."""

DEFAULT_MARGIN = 5.0
"""Seconds of slack on each side of the window: the ``Date`` header's one-second resolution
and the latency of the read that measured the clock offset."""

_NOT_PROMOTIONS = frozenset({"ROLLBACK_DEPLOYMENT", "RESTART", "AUTO_DEPLOY_ON_PUSH"})
_PAGE = 100
_MAX_PAGES = 20


@attrs.frozen(slots=True)
class Build:
    """What a deployment runs: its commit and image."""

    commit_sha: str | None
    docker_image_url: str | None

    @classmethod
    def of(cls, deployment: Deployment) -> Build:
        return cls(deployment.commit_sha, deployment.docker_image_url)

    @property
    def known(self) -> bool:
        return self.commit_sha is not None or self.docker_image_url is not None


@attrs.frozen(slots=True)
class Window:
    """Where the promotion's deployments must be, on the server's clock."""

    start: datetime
    end: datetime

    @classmethod
    def around(cls, sent_at: datetime, offset: float, settle: float, margin: float) -> Window:
        server_sent = sent_at + timedelta(seconds=offset)
        return cls(
            server_sent - timedelta(seconds=margin),
            server_sent + timedelta(seconds=settle + margin),
        )


def server_offset(date_header: str | None, wall_now: float) -> float | None:
    """Seconds the server's clock is ahead of ours (negative: behind), from a reply's
    ``Date`` header read at ``wall_now``; ``None`` when the header is absent or cannot be
    read. (However far off, a readable ``Date`` is believed: it comes from the same clock
    as the deployments' ``created_at`` it is compared with.)"""
    if not date_header:
        return None
    try:
        moment = parsedate_to_datetime(date_header)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp() - wall_now
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def source_build(deployments: Sequence[Deployment], window: Window) -> Build | None:
    """The build the promotion deployed: that of the source's latest successful deployment
    created before the window ends (a newer build made later is not what was promoted)."""
    for deployment in deployments:  # most recent first
        if deployment.succeeded and deployment.created_at <= window.end:
            return Build.of(deployment)
    return None


def _is_promotion_of(deployment: Deployment, build: Build, window: Window) -> bool:
    return (
        window.start <= deployment.created_at <= window.end
        and deployment.type == "manual"
        and (deployment.trigger or "") not in _NOT_PROMOTIONS
        and Build.of(deployment) == build
    )


def judge_target(
    target: uuid.UUID,
    deployments: Sequence[Deployment],
    *,
    build: Build,
    window: Window,
    read_past_window: bool,
    settled: bool,
    local: tuple[Build, Window] | None = None,
) -> TargetVerdict:
    """The verdict for one target, from its history (most recent first, possibly only the
    first pages).

    ``read_past_window``: the history was read back to an entry older than the window (on
    either clock), or to its end; ``settled``: the settle period after ``sent_at``
    is over; ``local``: the source's build and the window on the client's own clock, when
    they differ from the server's: a promotion found only there leaves the verdict
    undecided.
    """
    found = [d for d in deployments if _is_promotion_of(d, build, window)]
    if found:
        chosen = min(found, key=lambda d: d.created_at)  # the first one in the window
        extra = f" ({len(found)} candidates; the earliest)" if len(found) > 1 else ""
        return TargetVerdict(
            target, True, chosen, f"manual deployment of the source's build in the window{extra}"
        )
    if local is not None and any(_is_promotion_of(d, *local) for d in deployments):
        return TargetVerdict(
            target,
            None,
            None,
            "a manual deployment of the source's build is in the window on the client's "
            "clock but not on the server's (its Date header): the clocks disagree",
        )
    if not read_past_window:
        return TargetVerdict(target, None, None, "history not read back to the window's start")
    if not settled:
        return TargetVerdict(
            target, None, None, "no deployment yet, and the settle period is not over"
        )
    return TargetVerdict(
        target, False, None, "no manual deployment of the source's build in the window"
    )


class Reads(Protocol):
    """What reconciliation needs of the client's core: a GET decoded with its reply."""

    async def request_with_reply(
        self, req: _protocol.Request, into: type[T], *, deadline: float | None = None
    ) -> tuple[T, TransportResponse]: ...


class Reconciler:
    """Reads the evidence for one request and judges each target (one look, no waiting)."""

    def __init__(
        self,
        core: Reads,
        wall: Callable[[], float],
        *,
        settle: float = DEFAULT_SETTLE,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self._core = core
        self._wall = wall
        self.settle = settle
        self.margin = margin
        # per (source, sent_at): the build, the clock offset, the client-clock evidence
        self._builds: dict[
            tuple[uuid.UUID, datetime], tuple[Build, float, tuple[Build, Window] | None]
        ] = {}

    async def _page(
        self, app_id: uuid.UUID, offset: int
    ) -> tuple[list[Deployment], int, float | None]:
        page, reply = await self._core.request_with_reply(
            _protocol.list_deployments_request(app_id, limit=_PAGE, offset=offset),
            _protocol.DeploymentPage,
        )
        measured = server_offset(reply.headers.get("date"), self._wall())
        return page.data, page.total, measured

    def _window(self, sent_at: datetime, offset: float) -> Window:
        """Where the promotion's deployments must be, with the server's clock ``offset``
        seconds ahead of ours (0: on the client's own clock)."""
        return Window.around(sent_at, offset, self.settle, self.margin)

    async def _history(
        self, app_id: uuid.UUID, sent_at: datetime, skew: list[float]
    ) -> tuple[list[Deployment], bool, Window]:
        """The app's deployments back to the start of the window on either clock, the
        server's and the client's (``bool``: reached it), and the server's window."""
        found: list[Deployment] = []
        offset = 0
        local = self._window(sent_at, 0.0)
        window = self._window(sent_at, skew[0])
        for _ in range(_MAX_PAGES):
            data, total, measured = await self._page(app_id, offset)
            if measured is not None:  # a reply without a usable Date keeps the last offset
                skew[0] = measured
            window = self._window(sent_at, skew[0])
            found.extend(data)
            offset += len(data)
            start = min(window.start, local.start)
            if not data or offset >= total or data[-1].created_at < start:
                return found, True, window
        return found, False, window

    def _local(
        self, source: Sequence[Deployment], sent_at: datetime, window: Window, build: Build
    ) -> tuple[Build, Window] | None:
        """The source's build and the window on the client's clock; ``None`` when they are
        the server's or the source had no successful deployment by then."""
        local = self._window(sent_at, 0.0)
        local_build = source_build(source, local)
        if local_build is None or not local_build.known or (local_build, local) == (build, window):
            return None
        return local_build, local

    async def look(
        self,
        request: PromoteRequest,
        sent_at: datetime,
        targets: Sequence[uuid.UUID] | None = None,
    ) -> list[TargetVerdict]:
        """One verdict per target of ``request`` (or of ``targets``), in target order.
        The source's build is read once per request and reused by later looks."""
        if targets is None:
            targets = request.target_app_ids
        key = (request.source_app_id, sent_at)
        cached = self._builds.get(key)
        if cached is None:
            skew = [0.0]
            try:
                source, _, window = await self._history(request.source_app_id, sent_at, skew)
            except APIError as exc:
                why = f"could not read the source app's deployments: {exc.message}"
                return [TargetVerdict(t, None, None, why) for t in targets]
            build = source_build(source, window)
            if build is None or not build.known:
                why = "the source app's promoted build is unknown (no successful deployment)"
                return [TargetVerdict(t, None, None, why) for t in targets]
            local = self._local(source, sent_at, window, build)
            self._builds[key] = (build, skew[0], local)
        else:
            build, offset, local = cached
            skew = [offset]
        settled = self._wall() - sent_at.timestamp() >= self.settle
        verdicts = []
        for target in targets:
            try:
                history, complete, window = await self._history(target, sent_at, skew)
            except APIError as exc:
                why = f"could not read the target's deployments: {exc.message}"
                verdicts.append(TargetVerdict(target, None, None, why))
                continue
            verdicts.append(
                judge_target(
                    target,
                    history,
                    build=build,
                    window=window,
                    read_past_window=complete,
                    settled=settled,
                    local=local,
                )
            )
        return verdicts


DEFAULT_RECONCILE_TIMEOUT = 300.0
"""Seconds ``reconcile=True`` keeps looking before raising :class:`PromotionUnresolvedError`."""

_POLL = 15.0  # seconds between looks while the settle period runs


def check_reconcile_options(
    settle: float, timeout: float, *, settle_name: str = "reconcile_settle"
) -> None:
    """``ValueError`` naming the option, before anything is sent."""
    for name, value in ((settle_name, settle), ("reconcile_timeout", timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name}: must be a number of seconds >= 0, got {value!r}")


async def resolve(
    request: PromoteRequest,
    error: APIError,
    *,
    promote: Callable[[PromoteRequest], Awaitable[list[Promotion]]],
    reconciler: Reconciler,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[Any]],
    timeout: float,
) -> list[Promotion]:
    """Settle an ``unknown`` promotion: look until every target is decided (or ``timeout``
    runs out: :class:`PromotionUnresolvedError`), then promote again, in one request, only
    the targets verified not promoted. The promotions of every target, in target order."""
    from ._errors import PromotionUnresolvedError

    deadline = clock() + timeout
    order = request.target_app_ids
    found: dict[uuid.UUID, Promotion] = {}
    decided: dict[uuid.UUID, TargetVerdict] = {}
    while True:
        sent_at = error.sent_at
        if sent_at is None:  # cannot happen for an unknown write; never guess
            raise error
        looking = [t for t in request.target_app_ids if t not in decided]
        latest = {v.target_app_id: v for v in await reconciler.look(request, sent_at, looking)}
        verdicts = [decided.get(t) or latest[t] for t in request.target_app_ids]
        decided.update((v.target_app_id, v) for v in verdicts if v.promoted is not None)
        for verdict in verdicts:
            if verdict.promoted and verdict.deployment is not None:
                found[verdict.target_app_id] = Promotion(
                    verdict.target_app_id, verdict.deployment.id
                )
        undecided = [v for v in verdicts if v.promoted is None]
        if undecided:
            now = clock()
            if now >= deadline:
                raise PromotionUnresolvedError(
                    f"{len(undecided)} of {len(verdicts)} "
                    f"{'target' if len(verdicts) == 1 else 'targets'} still undecided after "
                    f"{timeout:g} s of reconciliation: {undecided[0].reason}",
                    verdicts=verdicts,
                    sent_at=sent_at,
                    method=error.method,
                    url=error.url,
                ) from error
            await sleep(min(_POLL, max(deadline - now, 0.0)))
            continue
        missing = tuple(v.target_app_id for v in verdicts if v.promoted is False)
        if not missing:
            return [found[t] for t in order]
        again = PromoteRequest(request.pipeline_id, request.source_app_id, missing)
        try:
            for promotion in await promote(again):
                found[promotion.target_app_id] = promotion
            return [found[t] for t in order]
        except APIError as exc:
            if exc.promotion_state is not PromotionState.UNKNOWN:
                raise
            # reconcile the new attempt, within the same deadline
            request, error = again, exc
            decided.clear()
            if clock() >= deadline:
                raise

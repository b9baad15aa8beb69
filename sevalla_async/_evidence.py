"""The evidence rules of reconciliation, pure (no I/O, no clock read): was the ``unknown``
promotion sent at ``sent_at`` made on one target? (:mod:`._reconcile` reads the lists.)

What the rules see (:class:`Evidence`): the source app's and the target's deployment
histories as read (:class:`History`: to their end or not, newest first or not) and, for
every read, what its ``Date`` and ``Age`` headers said about the server's clock
(:class:`Reply`).

- The promoted build is the source's latest successful deployment *at the send*
  (:func:`build_at_send`): one whose ``finished_at`` is at or before the send on the
  server's clock (the earliest the ``Date`` headers allow: a ``Date`` is truncated to the
  second, so the largest offset measured is the surest). A success of another build that
  ended less than the margin after it (the API may have acted on the request a moment
  later), or that has no ``finished_at``, leaves the build unknown (``None``). A
  deployment that is not a success now was not one at the send.
- Evidence of the promotion on the target: a deployment created in the window
  ``[sent - margin, sent + settle + margin]`` (server's clock), ``manual``, not a rollback,
  restart or push, of that build (:func:`is_promotion_of`).
- ``False`` needs: no such deployment, the history read back past the window's start (newest
  first checked, else read to its end), the settle period over on the client's clocks
  (``elapsed``) *and* for the content of every read of the target (a cached reply's ``Age``
  is taken off: a stale list does not show a recent deployment).
- Clocks: every read's ``Date`` (plus ``Age``) gives the server's clock offset at the send.
  Offsets that disagree by more than the margin (a stale cache, a wrong front end on some
  reads) leave the verdict ``None``. The agreed offset is checked against the history (no
  deployment may be dated after the server's time it gives) and against the source (it must
  have had a successful deployment before the send on that clock). The client's own clock is
  judged too, unless the history rules it out the same way: a promotion it alone finds makes
  the verdict ``None``, and a ``True`` needs the same source build on both clocks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Literal

import attrs

from ._models import Build, Deployment, TargetVerdict

__all__ = [
    "Build",
    "Evidence",
    "History",
    "Reply",
    "SourceBuild",
    "Window",
    "build_at_send",
    "clock_offsets",
    "is_promotion_of",
    "judge_target",
    "newest_first",
    "server_offset",
]

NOT_PROMOTIONS = frozenset({"ROLLBACK_DEPLOYMENT", "RESTART", "AUTO_DEPLOY_ON_PUSH"})


@attrs.frozen(slots=True)
class Window:
    """Where the promotion's deployments must be, on the server's clock."""

    start: datetime
    end: datetime

    @classmethod
    def around(cls, server_sent: datetime, settle: float, margin: float) -> Window:
        return cls(
            server_sent - timedelta(seconds=margin),
            server_sent + timedelta(seconds=settle + margin),
        )


def _date(header: str | None) -> float | None:
    if not header:
        return None
    try:
        moment = parsedate_to_datetime(header)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None


def server_offset(date_header: str | None, wall_now: float) -> float | None:
    """Seconds the server's clock is ahead of ours (negative: behind), from a reply's
    ``Date`` header read at ``wall_now``; ``None`` when the header is absent or cannot be
    read."""
    moment = _date(date_header)
    return None if moment is None else moment - wall_now


def _age(header: str | None) -> float | None:
    """A reply's ``Age`` (seconds a cache held it): 0 when absent, ``None`` unreadable."""
    if header is None:
        return 0.0
    text = header.strip()
    return float(text) if text.isdigit() else None


@attrs.frozen(slots=True)
class Reply:
    """What one read said about time.

    Attributes:
        elapsed: seconds since the send when the reply arrived (the client's clock).
        server_time: the server's time then (Unix seconds): its ``Date`` plus ``Age``;
            ``None`` without a readable ``Date``.
        age: seconds a cache had held the reply (``Age``; 0: fresh; ``None``: unreadable).
    """

    elapsed: float
    server_time: float | None
    age: float | None = 0.0

    @classmethod
    def of(cls, headers: Mapping[str, str], elapsed: float) -> Reply:
        date, age = _date(headers.get("date")), _age(headers.get("age"))
        server_time = None if date is None or age is None else date + age
        return cls(elapsed, server_time, age)

    def offset(self, sent: float) -> float | None:
        """Seconds the server's clock was ahead of the client's at the send (Unix ``sent``)."""
        return None if self.server_time is None else self.server_time - (sent + self.elapsed)

    def fresh(self, settle: float) -> bool:
        """Its content was made at least ``settle`` seconds after the send."""
        return self.age is not None and self.elapsed - self.age >= settle


def clock_offsets(replies: Iterable[Reply], sent: float) -> list[float]:
    """The offsets of the server's clock at the send (Unix ``sent``) that ``replies`` show."""
    return [o for o in (r.offset(sent) for r in replies) if o is not None]


def newest_first(deployments: Sequence[Deployment], after: Deployment | None = None) -> bool:
    """``created_at`` never increases along ``deployments`` (nor from ``after`` to them)."""
    previous = after
    for deployment in deployments:
        if previous is not None and deployment.created_at > previous.created_at:
            return False
        previous = deployment
    return True


@attrs.frozen(slots=True)
class History:
    """An app's deployments as read: ``whole`` (to its end) and ``ordered`` (newest first,
    checked)."""

    deployments: Sequence[Deployment]
    whole: bool
    ordered: bool

    def reaches(self, moment: datetime) -> bool:
        """Every deployment created at or after ``moment`` is in it."""
        if self.whole:
            return True
        return self.ordered and bool(self.deployments) and self.deployments[-1].created_at < moment


@attrs.frozen(slots=True)
class SourceBuild:
    """The source's build at the send, or why it is not known (``state``): ``"none"``, no
    successful deployment before the send (the history read); ``"unsure"``, cannot tell."""

    build: Build | None
    state: Literal["known", "none", "unsure"]
    why: str = ""


def build_at_send(source: History, server_sent: datetime, margin: float) -> SourceBuild:
    """The build of the source's latest (created) deployment that was a success at
    ``server_sent`` (the earliest the send can have been, on the server's clock). A success
    that ended less than ``margin`` seconds after it may have been what the API promoted
    (it acts on a request a little after the send): if its build differs, the build is
    ``"unsure"``. (With none before it, one that ended around it is the build: the API
    promotes nothing from an app without a successful deployment.)"""
    early, late = server_sent, server_sent + timedelta(seconds=margin)
    before: list[Deployment] = []
    unsure: list[Deployment] = []
    for deployment in source.deployments:
        if not deployment.succeeded:  # not a success now, so not at the send either
            continue
        finished = deployment.finished_at
        if finished is not None and finished <= early:
            before.append(deployment)
        elif (finished or deployment.created_at) <= late:
            unsure.append(deployment)
    if not before and not source.whole:
        return SourceBuild(None, "unsure", "its history was not read back to the request")
    if not (source.whole or source.ordered):
        return SourceBuild(None, "unsure", "its history is not newest first and was cut short")
    # the latest success at the send: one of those that ended around it, or the latest
    # created before it (all of them when created in the same instant)
    latest = max((d.created_at for d in before), default=None)
    candidates = [d for d in (*before, *unsure) if latest is None or d.created_at >= latest]
    builds = {d.build for d in candidates}
    if not builds:
        return SourceBuild(None, "none", "no successful deployment before the request")
    if len(builds) > 1:
        why = "successful deployments of different builds may each have been the latest"
        return SourceBuild(None, "unsure", why)
    build = builds.pop()
    if not build.known:
        return SourceBuild(None, "unsure", "its deployment names no commit and no image")
    return SourceBuild(build, "known")


def is_promotion_of(deployment: Deployment, build: Build, window: Window) -> bool:
    """``deployment`` may be the promotion of ``build`` made in ``window``."""
    return (
        window.start <= deployment.created_at <= window.end
        and deployment.type == "manual"
        and (deployment.trigger or "") not in NOT_PROMOTIONS
        and deployment.build == build
    )


@attrs.frozen(slots=True)
class Evidence:
    """What the rules know about one target of the request sent at ``sent_at``.

    ``elapsed``: seconds since the send now, on the slower of the client's clocks;
    ``source_replies`` / ``target_replies``: the reads of each history.
    """

    sent_at: datetime
    source: History
    history: History
    source_replies: Sequence[Reply]
    target_replies: Sequence[Reply]
    elapsed: float
    settle: float
    margin: float


def _undecided(target: uuid.UUID, why: str) -> TargetVerdict:
    return TargetVerdict(target, None, None, why)


@attrs.frozen(slots=True)
class _OnClock:
    """The verdict with the server's clock ``offset`` seconds ahead of the client's."""

    source: SourceBuild
    verdict: TargetVerdict
    ruled_out: bool  # a deployment is dated after the server's time on this clock

    @classmethod
    def judge(cls, target: uuid.UUID, ev: Evidence, offset: float, settled: bool) -> _OnClock:
        sent = ev.sent_at + timedelta(seconds=offset)
        source = build_at_send(ev.source, sent, ev.margin)
        latest = max((r.elapsed for r in (*ev.source_replies, *ev.target_replies)), default=0.0)
        bound = sent + timedelta(seconds=latest + ev.margin)
        ruled_out = any(
            d.created_at > bound for d in (*ev.source.deployments, *ev.history.deployments)
        )
        if source.build is None:
            why = f"the source app's promoted build is unknown ({source.why})"
            return cls(source, _undecided(target, why), ruled_out)
        window = Window.around(sent, ev.settle, ev.margin)
        verdict = _verdict(target, ev.history, source.build, window, settled)
        return cls(source, verdict, ruled_out)


def _verdict(
    target: uuid.UUID, history: History, build: Build, window: Window, settled: bool
) -> TargetVerdict:
    found = [d for d in history.deployments if is_promotion_of(d, build, window)]
    if found:
        chosen = min(found, key=lambda d: d.created_at)  # the first one in the window
        extra = f" ({len(found)} candidates; the earliest)" if len(found) > 1 else ""
        why = f"manual deployment of the source's build in the window{extra}"
        return TargetVerdict(target, True, chosen, why)
    if not history.reaches(window.start):
        return _undecided(target, "history not read back to the window's start")
    if not settled:
        return _undecided(target, "no deployment yet, and the settle period is not over")
    return TargetVerdict(
        target, False, None, "no manual deployment of the source's build in the window"
    )


_DISAGREE = "the clocks disagree: the client's and the server's (its Date header)"


def judge_target(target: uuid.UUID, ev: Evidence) -> TargetVerdict:
    """The verdict for one target (see the module docstring)."""
    offsets = clock_offsets((*ev.source_replies, *ev.target_replies), ev.sent_at.timestamp())
    if offsets and max(offsets) - min(offsets) > ev.margin:
        spread = max(offsets) - min(offsets)
        return _undecided(
            target, f"the Date headers of the reads disagree by {spread:.0f} s: {_DISAGREE}"
        )
    settled = ev.elapsed >= ev.settle and all(r.fresh(ev.settle) for r in ev.target_replies)
    own = _OnClock.judge(target, ev, 0.0, settled)
    if not offsets:
        return own.verdict
    server = _OnClock.judge(target, ev, max(offsets), settled)
    if server.source.build is None:
        return server.verdict
    if server.ruled_out:
        return _undecided(target, f"a deployment is dated after the server's time: {_DISAGREE}")
    if own.ruled_out or own.source.state == "none":
        return server.verdict  # the client's clock is ruled out by the history
    verdict, check = server.verdict, own.verdict
    if verdict.promoted and own.source.build != server.source.build:
        return _undecided(target, f"the source's build differs between the clocks: {_DISAGREE}")
    if verdict.promoted is False and check.promoted:
        return _undecided(
            target,
            "a manual deployment of the source's build is in the window on the client's "
            f"clock only: {_DISAGREE}",
        )
    # a "not promoted" needs both clocks: one the client's clock cannot judge stays undecided
    return check if verdict.promoted is False and check.promoted is None else verdict

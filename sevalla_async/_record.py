"""The write record of one promote request, per target: passed down and back.

A caller that must account for a promotion whatever happens (a fan-out, a release, the
CLI's resume) creates a :class:`WriteRecord` and passes it down to the client's request
loop, which notes on the record's :class:`Send` when an attempt may reach the API, and to
reconciliation, which notes per target what it found and what it sent again. The caller
reads the record back after a reply, an error or a cancellation: nothing travels in a
context variable, and nothing is read back from an error.

Each target has its own send: a target promoted again after reconciling has the re-send's
``sent_at``, the others keep the first request's. :class:`TargetOutcome` is the public,
frozen view of one target.

No I/O here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from ._build import Build
from ._outcomes import PromotionState, utc_from_unix

__all__ = ["Send", "TargetOutcome", "WriteRecord", "combined_state"]


@attrs.frozen(slots=True)
class TargetOutcome:
    """Where one target of a promote request stands.

    Attributes:
        target_app_id: the target app.
        state: its :class:`PromotionState`.
        sent_at: when the request that last covered this target left (an aware UTC
            datetime), for ``promoted`` and ``unknown`` targets; ``None`` when nothing was
            sent for it (or the journal it came from did not say).
        deployment_id: the deployment the promotion started (``promoted``), else ``None``.
    """

    target_app_id: uuid.UUID
    state: PromotionState
    sent_at: datetime | None = None
    deployment_id: uuid.UUID | None = None


class Send:
    """One write request's send mark, set by the request loop: when the attempt that may
    have reached the API left, on the wall clock (``wall``, Unix seconds: ``sent_at``) and
    on the monotonic clock (``clock``: elapsed time since, immune to wall-clock steps).
    Both ``None`` while nothing may have reached the API."""

    __slots__ = ("clock", "wall")

    def __init__(self, wall: float | None = None, clock: float | None = None) -> None:
        self.wall = wall
        self.clock = clock

    def mark(self, wall: float, clock: float) -> None:
        """An attempt is leaving now."""
        self.wall = wall
        self.clock = clock

    def clear(self) -> None:
        """The API did not act on the last attempt (retried, or refused before sending)."""
        self.wall = None
        self.clock = None

    @property
    def sent_at(self) -> datetime | None:
        """``wall`` as an aware UTC datetime (built only when asked for)."""
        return None if self.wall is None else utc_from_unix(self.wall)

    def __repr__(self) -> str:
        return f"<Send sent_at={self.sent_at}>"


class WriteRecord:
    """The record of one promote request's writes, per target (see the module docstring).

    ``send`` is the mark of the request being sent now (the first one, or the latest
    re-send); :meth:`covers` says which targets a re-send covers. Until then every target
    shares the first send, and nothing per target is stored (the usual case costs one
    small object).
    """

    __slots__ = ("_deployments", "_sends", "_states", "build", "send", "targets")

    def __init__(self, targets: Sequence[uuid.UUID], send: Send | None = None) -> None:
        self.targets = tuple(targets)
        self.send = send if send is not None else Send()
        self.build: Build | None = None  # the source's build checked before sending
        self._sends: dict[uuid.UUID, Send] | None = None  # per target, once they differ
        self._states: dict[uuid.UUID, PromotionState] = {}
        self._deployments: dict[uuid.UUID, uuid.UUID] = {}

    @classmethod
    def of(cls, outcomes: Iterable[TargetOutcome]) -> WriteRecord:
        """A record rebuilt from targets' outcomes (e.g. read back from a journal):
        promoted and rejected targets are settled (a promoted one keeps its deployment);
        ``unknown`` and ``not_sent`` ones are pending with their own ``sent_at`` (none for
        ``not_sent``; there is no monotonic time across processes)."""
        outcomes = list(outcomes)
        record = cls([o.target_app_id for o in outcomes])
        sends = record._own_sends()
        for outcome in outcomes:
            wall = None if outcome.sent_at is None else outcome.sent_at.timestamp()
            sends[outcome.target_app_id] = Send(wall)
            if outcome.state is PromotionState.PROMOTED or outcome.state is PromotionState.REJECTED:
                record._states[outcome.target_app_id] = outcome.state
            if outcome.deployment_id is not None:
                record._deployments[outcome.target_app_id] = outcome.deployment_id
        return record

    # --- what the request loop and reconciliation note ------------------------------------

    def covers(self, targets: Iterable[uuid.UUID]) -> Send:
        """A new send for ``targets`` (a re-send of some of them): returned, and made the
        record's current :attr:`send`."""
        sends = self._own_sends()
        send = Send()
        for target in targets:
            sends[target] = send
            self._states.pop(target, None)
        self.send = send
        return send

    def promoted(self, target: uuid.UUID, deployment_id: uuid.UUID) -> None:
        """``target`` was promoted (by a reply, or found by reconciliation)."""
        self._states[target] = PromotionState.PROMOTED
        self._deployments[target] = deployment_id

    def settle(self, targets: Iterable[uuid.UUID], state: PromotionState) -> None:
        """``targets`` (without a promotion) came to ``state``."""
        for target in targets:
            if self._states.get(target) is not PromotionState.PROMOTED:
                self._states[target] = state

    def _own_sends(self) -> dict[uuid.UUID, Send]:
        if self._sends is None:
            self._sends = dict.fromkeys(self.targets, self.send)
        return self._sends

    # --- reading it back ------------------------------------------------------------------

    def send_of(self, target: uuid.UUID) -> Send:
        """The send that last covered ``target``."""
        return self.send if self._sends is None else self._sends[target]

    def deployment_of(self, target: uuid.UUID) -> uuid.UUID | None:
        """The deployment a promotion of ``target`` started, when known."""
        return self._deployments.get(target)

    def state_of(self, target: uuid.UUID) -> PromotionState:
        """The state of ``target``: what was settled for it, else ``unknown`` if its send
        may have reached the API, else ``not_sent``."""
        state = self._states.get(target)
        if state is not None:
            return state
        sent = self.send_of(target).wall is not None
        return PromotionState.UNKNOWN if sent else PromotionState.NOT_SENT

    def pending(self) -> list[uuid.UUID]:
        """The targets neither promoted nor settled (in target order)."""
        return [t for t in self.targets if t not in self._states]

    def outcomes(self) -> tuple[TargetOutcome, ...]:
        """Every target's :class:`TargetOutcome`, in target order."""
        return tuple(
            TargetOutcome(t, self.state_of(t), self.send_of(t).sent_at, self._deployments.get(t))
            for t in self.targets
        )

    @property
    def per_target(self) -> bool:
        """The targets do not all share one state and send (a partial result)."""
        return self._sends is not None or bool(self._deployments) or bool(self._states)

    def __repr__(self) -> str:
        return f"<WriteRecord targets={len(self.targets)}>"


def combined_state(outcomes: Sequence[TargetOutcome]) -> PromotionState:
    """One state for a request from its targets': ``promoted`` when every target is,
    else ``unknown`` if any target may have been promoted and is not known, else the state
    of the first target that is neither promoted (``rejected`` / ``not_sent``)."""
    if all(o.state is PromotionState.PROMOTED for o in outcomes):
        return PromotionState.PROMOTED
    if any(o.state is PromotionState.UNKNOWN for o in outcomes):
        return PromotionState.UNKNOWN
    return next(o.state for o in outcomes if o.state is not PromotionState.PROMOTED)

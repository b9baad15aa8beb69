"""What a release reports and records: the outcome of every entry and rollback, wave by
wave (:class:`WaveReport`, :class:`ReleaseReport`, :class:`ReleaseLedger`), and which
targets a failed wave rolls back (:func:`rollback_targets`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

import attrs

from ._build import Build
from ._fanout import FanoutLedger
from ._models import Deployment, LogEntry, PromoteRequest
from ._outcomes import PromotionState
from ._promote_outcome import PromoteOutcome
from ._result_errors import BuildChangedError

__all__ = [
    "DEFAULT_ROLLBACK_CONCURRENCY",
    "DeploymentProgress",
    "Gate",
    "OnFailure",
    "ReleaseLedger",
    "ReleaseReport",
    "RollbackOutcome",
    "WaveReport",
    "check_hooks",
    "rollback_targets",
]

OnFailure = Literal["stop", "rollback"]

DEFAULT_ROLLBACK_CONCURRENCY = 8
"""Rollback POSTs in flight at once."""


@attrs.frozen
class RollbackOutcome:
    """One rollback a release made (or tried) after a failed gate.

    Attributes:
        app_id: the app rolled back.
        wave: the index of the wave it belonged to.
        deployment: the rollback's deployment, final once waited for (``None`` when the
            rollback request failed).
        error: what went wrong (the request's :class:`APIError`, or the wait's error), or
            ``None``.
        state: the rollback request's :class:`PromotionState` (``promoted``: the API
            started it; ``unknown``: it may have; look before rolling back again).
        sent_at: when the request left, for an ``unknown`` one.
    """

    app_id: uuid.UUID
    wave: int
    deployment: Deployment | None = None
    error: BaseException | None = None
    state: PromotionState = PromotionState.PROMOTED
    sent_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        """The rollback's deployment ended ``success``."""
        return self.error is None and self.deployment is not None and self.deployment.succeeded


@attrs.frozen
class WaveReport:
    """What one wave did.

    Attributes:
        index: the wave's position in the release (0 first).
        outcomes: one :class:`PromoteOutcome` per entry, in entry order, each with its final
            ``deployments`` (as ``promote_many(wait=True)``).
        rollbacks: the rollbacks made after its gate failed (``on_failure="rollback"``).
        passed: the gate's verdict (``None`` while the gate is deciding: that is the
            report a gate receives).
        gate_error: what the gate raised (or the ``TypeError`` for a verdict that is not
            a ``bool``): the gate then failed (``passed`` is false), the release stops
            after rolling back as ``on_failure`` says, and the report is returned.
        failure_logs: app id -> the last ERROR lines (oldest first; at most the run's
            ``failure_logs``) of its deployment of this wave that ended ``failed``, read
            before the gate decides (the gate sees them). Empty when none failed or
            ``failure_logs=0``; an app whose log could not be read is left out (logged at
            WARNING). The text is the server's, escaped and capped (:class:`LogEntry`).
    """

    index: int
    outcomes: list[PromoteOutcome]
    rollbacks: list[RollbackOutcome] = attrs.field(factory=list)
    passed: bool | None = None
    gate_error: Exception | None = None
    failure_logs: dict[uuid.UUID, list[LogEntry]] = attrs.field(factory=dict)

    @property
    def deployments(self) -> list[Deployment]:
        """Every final deployment of the wave, entry by entry, in target order."""
        return [d for o in self.outcomes for d in (o.deployments or [])]

    @property
    def succeeded(self) -> bool:
        """Every entry was promoted and every deployment ended ``success``."""
        return all(o.succeeded for o in self.outcomes)

    @property
    def success_ratio(self) -> float:
        """The share of the wave's targets whose deployment ended ``success`` (0 to 1)."""
        targets = [t for o in self.outcomes for t in _targets(o)]
        if not targets:
            return 0.0
        return (len(targets) - len(self.failed_targets)) / len(targets)

    @property
    def failed_targets(self) -> list[uuid.UUID]:
        """The targets whose deployment did not end ``success`` (entry order); one that
        deployed another build than the checked one (:class:`BuildChangedError`) too."""
        good = {a for o in self.outcomes for a in _succeeded(o)}
        return [t for o in self.outcomes for t in _targets(o) if t not in good]


@attrs.frozen
class ReleaseReport:
    """The result of :meth:`Releases.run`.

    Attributes:
        waves: a :class:`WaveReport` for every wave that started, in order.
        completed: every wave ran and passed its gate.
        stopped_at: the index of the wave whose gate failed, or that was not sent because
            its source's build moved (``None`` when completed).
        builds: the build pinned for each source app (``pin_build=True``), by source id.
        stopped_reason: why the release stopped: the source, old and new build of a build
            that moved, or the wave whose gate failed (``None`` when completed).
    """

    waves: list[WaveReport]
    completed: bool
    stopped_at: int | None
    builds: dict[uuid.UUID, Build] = attrs.field(factory=dict)
    stopped_reason: str | None = None

    @property
    def outcomes(self) -> list[PromoteOutcome]:
        """Every outcome of every wave that started, wave by wave."""
        return [o for w in self.waves for o in w.outcomes]

    @property
    def rollbacks(self) -> list[RollbackOutcome]:
        """Every rollback made, wave by wave."""
        return [r for w in self.waves for r in w.rollbacks]


@attrs.frozen
class DeploymentProgress:
    """Given to ``on_deployment`` for every deployment a poll of a release returns.

    Attributes:
        wave: the index of the wave.
        deployment: the deployment as polled (its ``app_id`` is the target).
        rollback: ``True`` for the deployment of a rollback.
    """

    wave: int
    deployment: Deployment
    rollback: bool = False


Gate = Callable[[WaveReport], "bool | Awaitable[bool]"]
"""Decides, from a wave's report, whether the next wave starts (sync or async)."""


def check_hooks(**hooks: object) -> None:
    """``ValueError`` naming the first of ``hooks`` given that is not callable."""
    for name, hook in hooks.items():
        if hook is not None and not callable(hook):
            raise ValueError(f"{name}: expected a callable")


def _succeeded(outcome: PromoteOutcome) -> set[uuid.UUID | None]:
    """The targets whose deployment ended ``success`` with the checked build (one of
    another build, :class:`BuildChangedError`, is not a success)."""
    error = outcome.error
    wrong = {d.id for d in error.deployments} if isinstance(error, BuildChangedError) else ()
    return {d.app_id for d in outcome.deployments or () if d.succeeded and d.id not in wrong}


def _targets(outcome: PromoteOutcome) -> list[uuid.UUID]:
    request = outcome.request
    return list(request.target_app_ids) if isinstance(request, PromoteRequest) else []


class ReleaseLedger:
    """Every entry of a release and its outcome, on every exit path.

    Pass one as ``ledger=`` to :meth:`Releases.run` to keep the record whatever ends the run
    (a cancellation, Ctrl-C)::

        ledger = ReleaseLedger()
        try:
            await client.releases.run(waves, ledger=ledger)
        finally:
            for wave, outcome in ledger.outcomes:
                print(wave, outcome.index, outcome.state)

    ``on_outcome(wave, outcome)`` and ``on_rollback(rollback)`` (optional) are called as
    each is recorded (e.g. to append it to a journal); keep them quick.
    """

    def __init__(
        self,
        on_outcome: Callable[[int, PromoteOutcome], object] | None = None,
        on_rollback: Callable[[RollbackOutcome], object] | None = None,
    ) -> None:
        check_hooks(on_outcome=on_outcome, on_rollback=on_rollback)
        self._on_outcome = on_outcome
        self._on_rollback = on_rollback
        self._waves: dict[int, FanoutLedger] = {}
        self._rollbacks: list[RollbackOutcome] = []
        self.gates: dict[int, bool] = {}
        """The gate's verdict of every wave that was gated."""

    def wave(self, index: int) -> FanoutLedger:
        """The fan-out ledger of wave ``index`` (made on first use)."""
        ledger = self._waves.get(index)
        if ledger is None:
            hook = self._on_outcome
            on = None if hook is None else (lambda o, i=index: hook(i, o))
            ledger = self._waves[index] = FanoutLedger(on_outcome=on)
        return ledger

    def record_rollback(self, rollback: RollbackOutcome) -> None:
        """Record a rollback's outcome."""
        self._rollbacks.append(rollback)
        if self._on_rollback is not None:
            self._on_rollback(rollback)

    @property
    def outcomes(self) -> list[tuple[int, PromoteOutcome]]:
        """``(wave, outcome)`` for every entry with an outcome, wave by wave, entry order."""
        return [(i, o) for i in sorted(self._waves) for o in self._waves[i].outcomes]

    @property
    def rollbacks(self) -> list[RollbackOutcome]:
        """Every rollback recorded, in the order they ended."""
        return list(self._rollbacks)

    def __len__(self) -> int:
        return sum(len(w) for w in self._waves.values())

    def __repr__(self) -> str:
        return (
            f"<ReleaseLedger waves={len(self._waves)} outcomes={len(self)} "
            f"rollbacks={len(self._rollbacks)}>"
        )


def rollback_targets(report: WaveReport) -> list[uuid.UUID]:
    """The targets of a failed wave to roll back: each one whose deployment of this wave did
    not end ``success`` (failed, cancelled, skipped, not seen to the end, or of another
    build than the checked one), and each one
    of an entry whose promotion is ``unknown`` (it may have been deployed). The targets of
    an entry the API ``rejected`` or that was ``not_sent`` were never deployed by the wave
    and are left alone."""
    out: list[uuid.UUID] = []
    for outcome in report.outcomes:
        targets = _targets(outcome)
        if outcome.promotions is None:
            if outcome.state is PromotionState.UNKNOWN:
                out.extend(targets)
            continue
        promoted = {p.target_app_id for p in outcome.promotions}
        good = _succeeded(outcome)
        out.extend(t for t in targets if t in promoted and t not in good)
    return out

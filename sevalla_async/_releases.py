"""Releases: promote in waves, gate each wave on its deployments, roll back what failed.

The workflow behind :meth:`Releases.run`, over two operations it is given (promote one wave
and wait for its deployments, as ``promote_many(wait=True)``; roll one app back) and the
client's :class:`Waiter` (to wait for the rollbacks, within the client's poll budget):

1. every option and every wave is checked once, before anything is sent, into a
   :class:`ReleaseSettings` (``ValueError`` naming ``waves[i][j].field``; a target in two
   entries is refused, it would be deployed twice);
2. wave ``k`` is promoted and its deployments waited for; its :class:`WaveReport` goes to
   the gate (default: every deployment of the wave succeeded; a callable, sync or async,
   for a custom one);
3. a passed gate starts wave ``k + 1``; a failed one stops the release there, after, with
   ``on_failure="rollback"``, rolling back (a few at a time, on the bounded-work engine)
   the wave's targets whose deployment did not succeed and waiting for those rollbacks.

Every entry gets exactly one outcome in the :class:`ReleaseLedger`, on every exit path: the
entries of waves never started (a stop, a cancellation) are ``not_sent``; a cancellation
mid-wave leaves the wave's fan-out ledger complete (``unknown`` with ``sent_at`` for a
request in flight) and a rollback in flight ``unknown``.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from ._engine import Engine
from ._errors import SevallaError
from ._failure_logs import FailureLogs, ReadLogs
from ._fanout import FanoutLedger
from ._models import Deployment, PromoteRequest, Promotion
from ._outcomes import PromotionState
from ._pins import Pins
from ._promote_outcome import PromoteOutcome
from ._release_checks import ReleaseSettings, check_waves
from ._release_reports import (
    DEFAULT_ROLLBACK_CONCURRENCY,
    DeploymentProgress,
    Gate,
    OnFailure,
    ReleaseLedger,
    ReleaseReport,
    RollbackOutcome,
    WaveReport,
    rollback_targets,
)
from ._result_errors import BuildChangedError, WaitAllError
from ._rollbacks import Rollback, RollbackPool, earlier_rollback
from ._wait import Waiter

logger = logging.getLogger("sevalla_async")

__all__ = [
    "DeploymentProgress",
    "Gate",
    "OnFailure",
    "PromoteWave",
    "Release",
    "ReleaseLedger",
    "ReleaseReport",
    "ReleaseSettings",
    "RollbackOutcome",
    "WaveReport",
    "check_waves",
    "rollback_targets",
]


PromoteWave = Callable[
    [Iterable[PromoteRequest], FanoutLedger, Callable[[int, Deployment], object]],
    Awaitable[list[PromoteOutcome]],
]
"""Promote one wave and wait for its deployments (``promote_many(wait=True)``), recording
into the given ledger, calling the hook with ``(entry index, deployment)`` on every poll."""


class Release:
    """One release run (see the module docstring); :meth:`run` once."""

    def __init__(
        self,
        settings: ReleaseSettings,
        *,
        promote_wave: PromoteWave,
        rollback: Rollback,
        waiter: Waiter,
        read_logs: ReadLogs,
        pins: Pins | None = None,
    ) -> None:
        # Every option was checked once, by ReleaseSettings.build.
        self._settings = settings
        self.waves = settings.waves
        self.ledger = settings.ledger if settings.ledger is not None else ReleaseLedger()
        self._promote_wave = promote_wave
        self._rollback = rollback
        self._waiter = waiter
        self._plan = settings.fanout.plan
        self._pins = pins
        self._failure_logs = FailureLogs(read_logs, settings.failure_logs)

    async def run(self) -> ReleaseReport:
        """Run the waves in turn (see the module docstring)."""
        reports: list[WaveReport] = []
        index = self._settings.start
        pins = self._pins
        builds = {} if pins is None else pins.builds
        try:
            for index in range(self._settings.start, len(self.waves)):
                moved = None if pins is None else await pins.check(self.waves, index)
                if moved is not None:
                    logger.warning("release stopped: %s", moved)
                    return ReleaseReport(reports, False, index, dict(builds), moved)
                report = await self._run_wave(index)
                reports.append(report)
                if not report.passed:
                    why = f"the gate of wave {index} failed"
                    if report.gate_error is not None:
                        why += f": {type(report.gate_error).__name__}: {report.gate_error}"
                    return ReleaseReport(reports, False, index, dict(builds), why)
            return ReleaseReport(reports, True, None, dict(builds))
        finally:
            self._account_for_the_rest(index)

    async def _run_wave(self, index: int) -> WaveReport:
        on_wave = self._settings.on_wave
        if on_wave is not None:
            on_wave(index, None)
        outcomes = await self._promote(index)
        logs = await self._failure_logs([d for o in outcomes for d in o.deployments or ()])
        report = WaveReport(index, outcomes, failure_logs=logs)  # the gate sees the logs
        passed, gate_error = await self._decide(report)
        self.ledger.gates[index] = passed
        rollbacks: list[RollbackOutcome] = []
        if not passed and self._settings.on_failure == "rollback":
            rollbacks = await self._roll_back(index, rollback_targets(report))
        report = attrs.evolve(report, rollbacks=rollbacks, passed=passed, gate_error=gate_error)
        if on_wave is not None:
            on_wave(index, report)
        return report

    def _progress(self, wave: int, deployment: Deployment, rollback: bool = False) -> None:
        """Hand a polled deployment of ``wave`` to ``on_deployment``."""
        if self._settings.on_deployment is not None:
            self._settings.on_deployment(DeploymentProgress(wave, deployment, rollback))

    async def _promote(self, wave: int) -> list[PromoteOutcome]:
        """Promote the wave's entries (only the targets ``done`` does not cover) and wait
        for every deployment, ``done``'s included; one outcome per entry, entry order."""
        ledger = self.ledger.wave(wave)
        requests = self.waves[wave]
        known: dict[int, list[Promotion]] = {}
        sending: list[tuple[int, PromoteRequest]] = []
        for i, request in enumerate(requests):
            have = list(self._settings.done.get((wave, i), ()))
            covered = {p.target_app_id for p in have}
            rest = [t for t in request.target_app_ids if t not in covered]
            if have:
                known[i] = have
            if rest:
                # the entry's own options (its expect_build) go with the targets left
                chosen = attrs.evolve(request, target_app_ids=rest) if have else request
                sending.append((i, chosen if self._pins is None else self._pins.apply(chosen)))
        waited = await self._wait_known(wave, known)
        for i in known:
            if all(i != j for j, _ in sending):
                ledger.note_read(i)
                ledger.record(waited[i])  # already this entry's, as if promoted by this run

        def merged(outcome: PromoteOutcome) -> None:
            i = sending[outcome.index][0]
            ledger.note_read(i)
            if i not in known:  # built once: re-indexed only when entries were left out
                ledger.record(outcome if i == outcome.index else attrs.evolve(outcome, index=i))
                return
            before = waited[i]
            ledger.record(
                attrs.evolve(
                    outcome,
                    request=requests[i],
                    index=i,
                    promotions=[*(before.promotions or []), *(outcome.promotions or [])],
                    deployments=[*(before.deployments or []), *(outcome.deployments or [])],
                    error=outcome.error or before.error,
                )
            )

        if sending:
            on_send = self._settings.on_send

            def marked() -> Iterator[PromoteRequest]:
                for i, request in sending:
                    if on_send is not None:
                        on_send(wave, i, request)
                    yield request

            await self._promote_wave(
                marked(), FanoutLedger(on_outcome=merged), lambda _, d: self._progress(wave, d)
            )
        return [o for _, o in sorted((o.index, o) for o in ledger.outcomes)]

    async def _wait_known(
        self, wave: int, known: dict[int, list[Promotion]]
    ) -> dict[int, PromoteOutcome]:
        """Wait for the deployments of the promotions ``done`` gave (made by an earlier
        run): an outcome per entry, as if this run had promoted them."""
        out: dict[int, PromoteOutcome] = {}
        for i, promotions in known.items():
            request = self.waves[wave][i]
            try:
                deployments = await self._wait_all(wave, promotions)
                out[i] = PromoteOutcome(request, promotions, None, i, True, deployments)
            except WaitAllError as error:
                finished = list(error.deployments.values())
                out[i] = PromoteOutcome(request, promotions, error, i, True, finished)
        return out

    async def _wait_all(
        self, wave: int, promotions: list[Promotion], rollback: bool = False
    ) -> list[Deployment]:
        """Wait for ``promotions`` of ``wave`` by the release's plan (its timeout counted
        from now), each deployment polled handed to ``on_deployment``."""
        deadline = self._waiter.deadline(self._plan)

        def on_poll(deployment: Deployment) -> None:
            self._progress(wave, deployment, rollback)

        return await self._waiter.wait_all(
            promotions, self._plan, deadline=deadline, on_poll=on_poll
        )

    async def _decide(self, report: WaveReport) -> tuple[bool, Exception | None]:
        """The gate's verdict, and what it raised: a gate that raises, or returns anything
        but a ``bool``, has failed (its wave was promoted: the report and the rollback
        must not be lost to the gate's bug)."""
        moved = next(
            (o.error for o in report.outcomes if isinstance(o.error, BuildChangedError)), None
        )
        if moved is not None:  # another build than the pinned one: whatever the gate says
            return False, moved
        gate = self._settings.gate
        if gate is None:
            return report.succeeded, None
        verdict: Any  # a gate is user code: it may return anything
        try:
            verdict = gate(report)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except Exception as exc:
            logger.warning(
                "release: the gate of wave %d raised %r: the gate failed", report.index, exc
            )
            return False, exc
        if not isinstance(verdict, bool):
            error = TypeError(f"gate: must return True or False, returned {verdict!r}")
            logger.warning("release: wave %d: %s: the gate failed", report.index, error)
            return False, error
        return verdict, None

    # --- rollback -------------------------------------------------------------------------

    async def _roll_back(self, wave: int, apps: list[uuid.UUID]) -> list[RollbackOutcome]:
        """Roll back every app in ``apps`` (a few at a time), then wait for the rollbacks.
        An app an earlier run already rolled back in this wave (``rolled_back``) is not
        sent again: its rollback is waited for when its deployment is known, else it is
        reported ``unknown``."""
        rolled_back = self._settings.rolled_back
        earlier = {a: rolled_back[(wave, a)] for a in apps if (wave, a) in rolled_back}
        sending = [a for a in apps if a not in earlier]
        pool = RollbackPool(wave, self._rollback, self._settings.on_rollback_send)
        results: dict[int, RollbackOutcome] = {}
        engine = Engine(
            sending,
            pool.one,
            concurrency=DEFAULT_ROLLBACK_CONCURRENCY,
            cancelled=pool.cancelled,
            on_cancelled=results.__setitem__,
        )
        try:
            sent = iter(await engine.collect())
        except BaseException:
            for i in sorted(results):  # every rollback accounted for, in order
                self.ledger.record_rollback(results[i])
            raise
        made = [
            earlier_rollback(app, wave, earlier[app]) if app in earlier else next(sent)
            for app in apps
        ]
        ids = {app: i for app, i in earlier.items() if i is not None}
        try:
            made = await self._wait_rollbacks(made, ids)
        finally:
            for rollback in made:
                self.ledger.record_rollback(rollback)
        return made

    async def _wait_rollbacks(
        self, made: list[RollbackOutcome], earlier: Mapping[uuid.UUID, uuid.UUID]
    ) -> list[RollbackOutcome]:
        """Wait for every rollback deployment: those just started, and those an earlier run
        started (``earlier``: app -> the rollback's deployment id)."""
        promotions = [
            Promotion(r.app_id, r.deployment.id if r.deployment else earlier[r.app_id])
            for r in made
            if r.deployment is not None or r.app_id in earlier
        ]
        if not promotions:
            return made
        wave = made[0].wave
        results: Sequence[Deployment | SevallaError]
        try:
            results = await self._wait_all(wave, promotions, rollback=True)
        except WaitAllError as error:
            results = error.results
        finals = {p.target_app_id: r for p, r in zip(promotions, results, strict=True)}
        out: list[RollbackOutcome] = []
        for rollback in made:
            final = finals.get(rollback.app_id)
            if isinstance(final, Deployment):
                rollback = attrs.evolve(rollback, deployment=final)
            elif final is not None:
                rollback = attrs.evolve(rollback, error=final)
            out.append(rollback)
        return out

    # --- accounting -----------------------------------------------------------------------

    def _account_for_the_rest(self, current: int) -> None:
        """Give every entry without an outcome one: ``not_sent`` (a wave never started, an
        entry of the current wave never read)."""
        for index in range(current, len(self.waves)):  # the waves before it are complete
            ledger = self.ledger.wave(index)
            for position, request in enumerate(self.waves[index]):
                if not ledger.has(position):
                    ledger.note_read(position)
                    ledger.record(
                        PromoteOutcome(
                            request, None, None, position, False, state=PromotionState.NOT_SENT
                        )
                    )

"""Releases: promote in waves, gate each wave on its deployments, roll back what failed.

The workflow behind :meth:`Releases.run`, over two operations it is given (promote one wave
and wait for its deployments, as ``promote_many(wait=True)``; roll one app back) and the
client's :class:`Waiter` (to wait for the rollbacks, within the client's poll budget):

1. every wave is checked before anything is sent (``ValueError`` naming
   ``waves[i][j].field``; a target in two entries is refused, it would be deployed twice);
2. wave ``k`` is promoted and its deployments waited for; its :class:`WaveReport` goes to
   the gate (default: every deployment of the wave succeeded; a callable, sync or async,
   for a custom one);
3. a passed gate starts wave ``k + 1``; a failed one stops the release there, after, with
   ``on_failure="rollback"``, rolling back the wave's targets whose deployment did not
   succeed and waiting for those rollbacks.

Every entry gets exactly one outcome in the :class:`ReleaseLedger`, on every exit path: the
entries of waves never started (a stop, a cancellation) are ``not_sent``; a cancellation
mid-wave leaves the wave's fan-out ledger complete (``unknown`` with ``sent_at`` for a
request in flight) and a rollback in flight ``unknown``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from ._errors import APIError, SevallaError, WaitAllError
from ._fanout import FanoutLedger, as_request
from ._models import Deployment, PromoteOutcome, PromoteRequest, Promotion
from ._outcomes import PromotionState, state_of
from ._record import Send
from ._wait import PollSettings, Waiter

logger = logging.getLogger("sevalla_async")

__all__ = [
    "DeploymentProgress",
    "Gate",
    "OnFailure",
    "Release",
    "ReleaseLedger",
    "ReleaseReport",
    "RollbackOutcome",
    "WaveReport",
    "check_waves",
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
    """

    index: int
    outcomes: list[PromoteOutcome]
    rollbacks: list[RollbackOutcome] = attrs.field(factory=list)
    passed: bool | None = None
    gate_error: Exception | None = None

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
        good = {d.app_id for d in self.deployments if d.succeeded}
        return sum(1 for t in targets if t in good) / len(targets)

    @property
    def failed_targets(self) -> list[uuid.UUID]:
        """The targets whose deployment did not end ``success`` (entry order)."""
        good = {d.app_id for d in self.deployments if d.succeeded}
        return [t for o in self.outcomes for t in _targets(o) if t not in good]


@attrs.frozen
class ReleaseReport:
    """The result of :meth:`Releases.run`.

    Attributes:
        waves: a :class:`WaveReport` for every wave that started, in order.
        completed: every wave ran and passed its gate.
        stopped_at: the index of the wave whose gate failed (``None`` when completed).
    """

    waves: list[WaveReport]
    completed: bool
    stopped_at: int | None

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
        for name, hook in (("on_outcome", on_outcome), ("on_rollback", on_rollback)):
            if hook is not None and not callable(hook):
                raise ValueError(f"{name}: expected a callable")
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


def check_waves(waves: object) -> list[list[PromoteRequest]]:
    """Every wave as validated requests, or ``ValueError`` naming ``waves[i][j]`` and the
    field; a target app in two entries (of any waves) is refused too."""
    if isinstance(waves, (str, bytes, dict)) or not isinstance(waves, Iterable):
        raise ValueError(
            f"waves: expected a list of waves (each a list of requests), got {type(waves).__name__}"
        )
    checked: list[list[PromoteRequest]] = []
    seen: dict[uuid.UUID, str] = {}
    for i, wave in enumerate(waves):
        if isinstance(wave, (str, bytes, dict, PromoteRequest)) or not isinstance(wave, Iterable):
            raise ValueError(f"waves[{i}]: expected a list of requests, got {type(wave).__name__}")
        requests: list[PromoteRequest] = []
        for j, item in enumerate(wave):
            name = f"waves[{i}][{j}]"
            try:
                request = as_request(item)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{name}: {exc}") from None
            for target in request.target_app_ids:
                if target in seen:
                    raise ValueError(
                        f"{name}.target_app_ids: {target} is already a target of {seen[target]}"
                    )
                seen[target] = name
            requests.append(request)
        if not requests:
            raise ValueError(f"waves[{i}]: a wave needs at least one request")
        checked.append(requests)
    if not checked:
        raise ValueError("waves: at least one wave is required")
    return checked


def rollback_targets(report: WaveReport) -> list[uuid.UUID]:
    """The targets of a failed wave to roll back: each one whose deployment of this wave did
    not end ``success`` (failed, cancelled, skipped, or not seen to the end), and each one
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
        good = {d.app_id for d in (outcome.deployments or []) if d.succeeded}
        out.extend(t for t in targets if t in promoted and t not in good)
    return out


def _check_done(
    done: Mapping[tuple[int, int], Sequence[Promotion]] | None,
    waves: list[list[PromoteRequest]],
) -> dict[tuple[int, int], list[Promotion]]:
    """``done`` checked against the waves: keys ``(wave, entry)`` of the plan, values
    :class:`Promotion` lists for targets of that entry (``ValueError`` naming the key)."""
    if done is None:
        return {}
    if not isinstance(done, Mapping):
        raise ValueError("done: expected a mapping of (wave, entry) to promotions")
    out: dict[tuple[int, int], list[Promotion]] = {}
    for key, promotions in done.items():
        if (
            not isinstance(key, tuple)
            or len(key) != 2
            or not all(type(k) is int for k in key)
            or not 0 <= key[0] < len(waves)
            or not 0 <= key[1] < len(waves[key[0]])
        ):
            raise ValueError(f"done[{key!r}]: not a (wave, entry) position of the waves")
        targets = set(waves[key[0]][key[1]].target_app_ids)
        listed = list(promotions)
        for p in listed:
            if not isinstance(p, Promotion) or p.target_app_id not in targets:
                raise ValueError(f"done[{key!r}]: {p!r} is not a promotion of a target of it")
        out[key] = listed
    return out


PromoteWave = Callable[
    [Iterable[PromoteRequest], FanoutLedger, Callable[[int, Deployment], object]],
    Awaitable[list[PromoteOutcome]],
]
"""Promote one wave and wait for its deployments (``promote_many(wait=True)``), recording
into the given ledger, calling the hook with ``(entry index, deployment)`` on every poll."""


def _check_rolled_back(
    rolled_back: Mapping[tuple[int, uuid.UUID], uuid.UUID | None] | None,
    waves: list[list[PromoteRequest]],
) -> dict[tuple[int, uuid.UUID], uuid.UUID | None]:
    """``rolled_back`` checked against the waves: keys ``(wave, app id)`` of a target of
    that wave, values the rollback's deployment id or ``None`` (``ValueError`` naming the
    key)."""
    if rolled_back is None:
        return {}
    if not isinstance(rolled_back, Mapping):
        raise ValueError("rolled_back: expected a mapping of (wave, app id) to a deployment id")
    out: dict[tuple[int, uuid.UUID], uuid.UUID | None] = {}
    for key, deployment_id in rolled_back.items():
        wave, app = key if isinstance(key, tuple) and len(key) == 2 else (None, None)
        if (
            type(wave) is not int
            or not 0 <= wave < len(waves)
            or not any(app in r.target_app_ids for r in waves[wave])
        ):
            raise ValueError(f"rolled_back[{key!r}]: not a (wave, target app id) of the waves")
        if deployment_id is not None and not isinstance(deployment_id, uuid.UUID):
            raise ValueError(f"rolled_back[{key!r}]: expected a deployment id (UUID) or None")
        out[(wave, app)] = deployment_id
    return out


def _earlier_rollback(
    app: uuid.UUID, wave: int, deployment_id: uuid.UUID | None
) -> RollbackOutcome:
    """The rollback an earlier run made of ``app`` (``unknown`` when its deployment is not
    known: it may have been sent without a reply seen)."""
    state = PromotionState.PROMOTED if deployment_id is not None else PromotionState.UNKNOWN
    return RollbackOutcome(app, wave, None, None, state)


Rollback = Callable[[uuid.UUID, Send], Awaitable[Deployment]]


class Release:
    """One release run (see the module docstring); :meth:`run` once."""

    def __init__(
        self,
        waves: Any,
        *,
        promote_wave: PromoteWave,
        rollback: Rollback,
        waiter: Waiter,
        plan: PollSettings,
        gate: Gate | None,
        on_failure: OnFailure,
        ledger: ReleaseLedger | None,
        on_wave: Callable[[int, WaveReport | None], object] | None,
        on_deployment: Callable[[DeploymentProgress], object] | None,
        start: int,
        done: Mapping[tuple[int, int], Sequence[Promotion]] | None,
        on_send: Callable[[int, int, PromoteRequest], object] | None,
        rolled_back: Mapping[tuple[int, uuid.UUID], uuid.UUID | None] | None = None,
        on_rollback_send: Callable[[int, uuid.UUID], object] | None = None,
    ) -> None:
        # The options of Releases.run, which holds their defaults and passes every one.
        if on_failure not in ("stop", "rollback"):
            raise ValueError(f"on_failure: expected 'stop' or 'rollback', got {on_failure!r}")
        if gate is not None and not callable(gate):
            raise ValueError("gate: expected a callable taking a WaveReport")
        if ledger is not None and not isinstance(ledger, ReleaseLedger):
            raise ValueError("ledger: expected a ReleaseLedger")
        hooks = (
            ("on_wave", on_wave),
            ("on_deployment", on_deployment),
            ("on_send", on_send),
            ("on_rollback_send", on_rollback_send),
        )
        for name, hook in hooks:
            if hook is not None and not callable(hook):
                raise ValueError(f"{name}: expected a callable")
        self.waves = check_waves(waves)
        if type(start) is not int or not 0 <= start < len(self.waves):
            raise ValueError(f"start: must be a wave index from 0 to {len(self.waves) - 1}")
        self.ledger = ledger if ledger is not None else ReleaseLedger()
        self._promote_wave = promote_wave
        self._rollback = rollback
        self._waiter = waiter
        self._plan = plan
        self._gate = gate
        self._on_failure = on_failure
        self._on_wave = on_wave
        self._on_deployment = on_deployment
        self._start = start
        self._done = _check_done(done, self.waves)
        self._on_send = on_send
        self._rolled_back = _check_rolled_back(rolled_back, self.waves)
        self._on_rollback_send = on_rollback_send

    async def run(self) -> ReleaseReport:
        """Run the waves in turn (see the module docstring)."""
        reports: list[WaveReport] = []
        index = self._start
        try:
            for index in range(self._start, len(self.waves)):
                report = await self._run_wave(index)
                reports.append(report)
                if not report.passed:
                    return ReleaseReport(reports, False, index)
            return ReleaseReport(reports, True, None)
        finally:
            self._account_for_the_rest(index)

    async def _run_wave(self, index: int) -> WaveReport:
        if self._on_wave is not None:
            self._on_wave(index, None)
        hook = self._on_deployment

        def on_poll(_: int, deployment: Deployment) -> None:
            if hook is not None:
                hook(DeploymentProgress(index, deployment))

        outcomes = await self._promote(index, on_poll)
        report = WaveReport(index, outcomes)
        passed, gate_error = await self._decide(report)
        self.ledger.gates[index] = passed
        rollbacks: list[RollbackOutcome] = []
        if not passed and self._on_failure == "rollback":
            rollbacks = await self._roll_back(index, rollback_targets(report))
        report = attrs.evolve(report, rollbacks=rollbacks, passed=passed, gate_error=gate_error)
        if self._on_wave is not None:
            self._on_wave(index, report)
        return report

    async def _promote(
        self, wave: int, on_poll: Callable[[int, Deployment], None]
    ) -> list[PromoteOutcome]:
        """Promote the wave's entries (only the targets ``done`` does not cover) and wait
        for every deployment, ``done``'s included; one outcome per entry, entry order."""
        ledger = self.ledger.wave(wave)
        requests = self.waves[wave]
        known: dict[int, list[Promotion]] = {}
        sending: list[tuple[int, PromoteRequest]] = []
        for i, request in enumerate(requests):
            have = list(self._done.get((wave, i), ()))
            covered = {p.target_app_id for p in have}
            rest = [t for t in request.target_app_ids if t not in covered]
            if have:
                known[i] = have
            if rest:
                narrowed = PromoteRequest(request.pipeline_id, request.source_app_id, rest)
                sending.append((i, narrowed if have else request))
        waited = await self._wait_known(wave, known, on_poll)
        for i in known:
            if all(i != j for j, _ in sending):
                ledger.note_read(i)
                ledger.record(attrs.evolve(waited[i], request=requests[i], index=i))

        def merged(outcome: PromoteOutcome) -> None:
            i = sending[outcome.index][0]
            ledger.note_read(i)
            if i not in known:
                ledger.record(attrs.evolve(outcome, index=i))
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
            on_send = self._on_send

            def marked() -> Iterator[PromoteRequest]:
                for i, request in sending:
                    if on_send is not None:
                        on_send(wave, i, request)
                    yield request

            def remap(i: int, deployment: Deployment) -> None:
                on_poll(sending[i][0], deployment)

            await self._promote_wave(marked(), FanoutLedger(on_outcome=merged), remap)
        return [o for _, o in sorted((o.index, o) for o in ledger.outcomes)]

    async def _wait_known(
        self,
        wave: int,
        known: dict[int, list[Promotion]],
        on_poll: Callable[[int, Deployment], None],
    ) -> dict[int, PromoteOutcome]:
        """Wait for the deployments of the promotions ``done`` gave (made by an earlier
        run): an outcome per entry, as if this run had promoted them."""
        out: dict[int, PromoteOutcome] = {}
        for i, promotions in known.items():
            request = self.waves[wave][i]
            try:
                deployments = await self._waiter.wait_all(
                    promotions,
                    self._plan,
                    deadline=self._waiter.deadline(self._plan),
                    on_poll=functools.partial(on_poll, i),
                )
                out[i] = PromoteOutcome(request, promotions, None, i, True, deployments)
            except WaitAllError as error:
                finished = list(error.deployments.values())
                out[i] = PromoteOutcome(request, promotions, error, i, True, finished)
        return out

    async def _decide(self, report: WaveReport) -> tuple[bool, Exception | None]:
        """The gate's verdict, and what it raised: a gate that raises, or returns anything
        but a ``bool``, has failed (its wave was promoted: the report and the rollback
        must not be lost to the gate's bug)."""
        if self._gate is None:
            return report.succeeded, None
        verdict: Any  # a gate is user code: it may return anything
        try:
            verdict = self._gate(report)
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
        earlier = {a: self._rolled_back[(wave, a)] for a in apps if (wave, a) in self._rolled_back}
        sending = [a for a in apps if a not in earlier]
        results: dict[int, RollbackOutcome] = {}
        marks: dict[int, Send] = {}
        pending = iter(range(len(sending)))
        on_send = self._on_rollback_send

        refused: list[Exception] = []  # on_rollback_send raised: send nothing more

        async def worker() -> None:
            for i in pending:
                if on_send is not None and not refused:
                    try:
                        on_send(wave, sending[i])  # e.g. journal it before it leaves
                    except Exception as exc:
                        refused.append(exc)
                if refused:
                    state = PromotionState.NOT_SENT
                    results[i] = RollbackOutcome(sending[i], wave, None, refused[0], state)
                    continue
                marks[i] = mark = Send()
                try:
                    deployment = await self._rollback(sending[i], mark)
                except (APIError, ValueError) as exc:
                    state = state_of(exc)
                    sent_at = mark.sent_at if state is PromotionState.UNKNOWN else None
                    results[i] = RollbackOutcome(sending[i], wave, None, exc, state, sent_at)
                else:
                    results[i] = RollbackOutcome(sending[i], wave, deployment, sent_at=mark.sent_at)

        count = min(DEFAULT_ROLLBACK_CONCURRENCY, len(sending))
        workers = [asyncio.create_task(worker()) for _ in range(count)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            for i, app in enumerate(sending):  # every rollback accounted for
                if i in results:
                    self.ledger.record_rollback(results[i])
                    continue
                mark_at = marks[i].sent_at if i in marks else None
                state = PromotionState.UNKNOWN if mark_at else PromotionState.NOT_SENT
                self.ledger.record_rollback(RollbackOutcome(app, wave, None, None, state, mark_at))
            raise
        sent = iter(results[i] for i in range(len(sending)))
        made = [
            _earlier_rollback(app, wave, earlier[app]) if app in earlier else next(sent)
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
        hook = self._on_deployment
        wave = made[0].wave

        def on_poll(deployment: Deployment) -> None:
            if hook is not None:
                hook(DeploymentProgress(wave, deployment, rollback=True))

        finals: dict[uuid.UUID, Deployment | SevallaError]
        try:
            done = await self._waiter.wait_all(
                promotions, self._plan, deadline=self._waiter.deadline(self._plan), on_poll=on_poll
            )
            finals = {p.target_app_id: d for p, d in zip(promotions, done, strict=True)}
        except WaitAllError as error:
            finals = {}
            for promotion, result in zip(promotions, error.results, strict=True):
                finals[promotion.target_app_id] = result
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
        for index in range(self._start, len(self.waves)):
            ledger = self.ledger.wave(index) if index >= current else None
            if ledger is None:
                continue
            for position, request in enumerate(self.waves[index]):
                if not ledger.has(position):
                    ledger.note_read(position)
                    ledger.record(
                        PromoteOutcome(
                            request, None, None, position, False, state=PromotionState.NOT_SENT
                        )
                    )

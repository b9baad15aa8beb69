"""``client.releases``: promote in waves, gate each wave, roll back what failed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .. import _wait
from .._build import Build
from .._failure_logs import DEFAULT_FAILURE_LOGS
from .._fanout import FanoutLedger, resolve_concurrency
from .._models import Deployment, PromoteRequest, Promotion
from .._options import FanoutSettings, ReconcileKeywords, Unpack, check_keywords, takes
from .._pins import Pins
from .._promote_outcome import PromoteOutcome
from .._releases import (
    DeploymentProgress,
    Gate,
    OnFailure,
    PromoteWave,
    Release,
    ReleaseLedger,
    ReleaseReport,
    ReleaseSettings,
    WaveReport,
)

if TYPE_CHECKING:
    from .deployments import Deployments
    from .pipelines import Pipelines

__all__ = ["Releases"]


class Releases:
    """Releases in waves, reached as ``client.releases``."""

    def __init__(
        self, pipelines: Pipelines, deployments: Deployments, waiter: _wait.Waiter
    ) -> None:
        self._pipelines = pipelines
        self._deployments = deployments
        self._waiter = waiter

    @takes(ReconcileKeywords)
    async def run(
        self,
        waves: Sequence[Sequence[PromoteRequest | dict[str, Any]]],
        *,
        gate: Gate | None = None,
        on_failure: OnFailure = "stop",
        ledger: ReleaseLedger | None = None,
        concurrency: int | None = None,
        wait_timeout: float | None = _wait.DEFAULT_TIMEOUT,
        poll_interval: float = _wait.DEFAULT_POLL_INTERVAL,
        on_wave: Callable[[int, WaveReport | None], object] | None = None,
        on_deployment: Callable[[DeploymentProgress], object] | None = None,
        start: int = 0,
        done: Mapping[tuple[int, int], Sequence[Promotion]] | None = None,
        on_send: Callable[[int, int, PromoteRequest], object] | None = None,
        rolled_back: Mapping[tuple[int, uuid.UUID], uuid.UUID | None] | None = None,
        on_rollback_send: Callable[[int, uuid.UUID], object] | None = None,
        skip_current: bool = True,
        pin_build: bool = True,
        builds: Mapping[uuid.UUID, Build] | None = None,
        on_pin: Callable[[uuid.UUID, Build], object] | None = None,
        failure_logs: int = DEFAULT_FAILURE_LOGS,
        **keywords: Unpack[ReconcileKeywords],
    ) -> ReleaseReport:
        """Promote ``waves`` one after the other, each only if the previous one passed its
        gate; on a failed gate stop, or roll back what the wave broke and stop.

        ::

            report = await client.releases.run(
                [[canary], [eu, us]], on_failure="rollback", wait_timeout=900
            )
            if not report.completed:
                print("stopped at wave", report.stopped_at)

        ``waves`` is a sequence of waves, each a sequence of :class:`PromoteRequest` objects
        or dicts (``pipeline_id``, ``source_app_id``, ``target_app_ids``). All of them are
        checked before anything is sent: ``ValueError`` names ``waves[i][j]`` and the field
        (a target app in two entries is refused too: it would be deployed twice).

        Each wave is promoted as :meth:`Pipelines.promote_many` with ``wait=True`` (at most
        ``concurrency`` entries at once; ``reconcile`` and its options,
        :class:`ReconcileKeywords`, settle an ambiguous promotion instead of failing it)
        and its deployments waited for, polling within the client's poll budget
        (``wait_timeout`` per entry, ``poll_interval`` the floor).

        ``gate`` decides from the wave's :class:`WaveReport` whether the next wave starts:
        a callable returning ``True``/``False``, or an awaitable of it (an external health
        check, ``lambda w: w.success_ratio >= 0.9``...). Default: every deployment of the
        wave succeeded. When it fails, ``on_failure="stop"`` stops there;
        ``"rollback"`` first rolls back (:meth:`Deployments.rollback`) each target of the
        wave whose deployment did not end ``success`` (and each target of an ``unknown``
        promotion), waits for those rollbacks, then stops. Targets that succeeded, and those
        of entries the API rejected, are left alone.

        Returns a :class:`ReleaseReport`: ``.waves`` (a :class:`WaveReport` per wave run:
        outcomes, deployments, rollbacks), ``.completed``, ``.stopped_at``. Pass a
        :class:`ReleaseLedger` as ``ledger`` to keep an outcome for every entry on every
        exit path (a cancellation included: entries of waves never started are
        ``not_sent``). ``on_wave(index, None)`` is called as a wave starts and
        ``on_wave(index, report)`` once it has ended (gate and rollbacks included);
        ``on_deployment`` gets a :class:`DeploymentProgress` for every deployment polled.
        ``start`` skips the waves before it (to continue a release that stopped).

        **Resuming.** ``done`` maps ``(wave, entry)`` positions to the :class:`Promotion`
        objects an earlier run already made for that entry (e.g. from a journal): those
        targets are not promoted again, their deployments are waited for and gated like
        the others; only the entry's other targets are sent. ``on_send(wave, entry,
        request)`` is called just before each request is sent (to journal it first).
        Likewise ``rolled_back`` maps ``(wave, app id)`` to the deployment id of a rollback
        an earlier run already sent for that target of that wave (``None``: sent, but its
        reply was never seen): it is not sent again; a known one is waited for, an unknown
        one is reported with ``state`` ``unknown``. ``on_rollback_send(wave, app_id)`` is
        called just before each rollback is sent.

        **The build you verified.** With ``pin_build=True`` (the default) each distinct
        source's current build is read before the first wave and pinned
        (``report.builds``); before each later wave its sources are read again, and one
        that moved (a push landed on staging after the canary passed) stops the release
        *before that wave is sent*: ``completed`` is false, ``stopped_at`` is that wave
        and ``stopped_reason`` names the source, the old and the new build. Every request
        expects its source's pinned build (``expect_build``), so a build that moves between
        that read and a POST is refused before sending or, if it slips in, fails the
        wave's gate whatever the gate says (:class:`BuildChangedError` as the outcome's
        error). ``builds`` keeps the pins of an earlier run (resuming); ``on_pin(source,
        build)`` is called as each is pinned (to journal it).

        With ``skip_current=True`` (the default here) a target that already runs its
        source's build is not sent (``Promotion.already_current``; its deployment is
        waited for like the others, and returns at once): running a finished release again
        sends no POST. Both cost reads (GETs): each source before each wave and once more
        per entry (its ``expect_build`` check), each target of a wave once
        (``benchmarks/bench_release.py``: +1.6 % of a 3 x 20 release's wall time).

        **Why it failed.** For each deployment of a wave that ended ``failed``, the last
        ``failure_logs`` ERROR lines of its log (default 20; ``0`` reads none) are read
        (:meth:`Deployments.logs`, from a minute before the deployment was created) into
        :attr:`WaveReport.failure_logs`, before the gate decides. Nothing is read when
        every deployment succeeded; the reads are GETs (the client's read budget); a read
        that fails is logged at WARNING and that app left out, the release goes on.
        """
        check_keywords(self.run, keywords, ReconcileKeywords)
        # Checked once here; every wave and every rollback's wait reads them unchecked.
        fanout = FanoutSettings.build(
            {
                **keywords,
                "wait": True,
                "wait_timeout": wait_timeout,
                "poll_interval": poll_interval,
                "skip_current": skip_current,
            }
        )
        if concurrency is not None:
            resolve_concurrency(concurrency, None)  # ValueError before anything is sent
        settings = ReleaseSettings.build(
            waves,
            fanout=fanout,
            gate=gate,
            on_failure=on_failure,
            ledger=ledger,
            on_wave=on_wave,
            on_deployment=on_deployment,
            start=start,
            done=done,
            on_send=on_send,
            rolled_back=rolled_back,
            on_rollback_send=on_rollback_send,
            failure_logs=failure_logs,
        )
        if not isinstance(pin_build, bool):
            raise ValueError(f"pin_build: expected True or False, got {pin_build!r}")
        pins = None
        if pin_build:
            pins = Pins(self._deployments.current_build, pinned=builds, on_pin=on_pin)
        return await Release(
            settings,
            promote_wave=self._wave_promoter(fanout, concurrency),
            rollback=self._deployments._rollback,
            waiter=self._waiter,
            read_logs=self._deployments.logs,
            pins=pins,
        ).run()

    def _wave_promoter(self, fanout: FanoutSettings, concurrency: int | None) -> PromoteWave:
        """Each wave: ``promote_many(wait=True)`` with the release's checked settings (the
        wave's own ledger and poll hook laid over them, nothing checked again)."""
        pipelines = self._pipelines

        async def promote_wave(
            requests: Iterable[PromoteRequest],
            wave_ledger: FanoutLedger,
            on_poll: Callable[[int, Deployment], object],
        ) -> list[PromoteOutcome]:
            options = attrs.evolve(fanout, on_poll=on_poll, ledger=wave_ledger)
            return await pipelines._fanout(requests, concurrency, options).collect()

        return promote_wave

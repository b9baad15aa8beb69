"""The write half of :class:`Pipelines`: the recorded promote every write path shares,
the fan-out of ``promote_many`` / ``promote_iter`` (each request queued for the write
budget, promoted, and with ``wait=True`` waited for), and the recovery of an ``unknown``
promotion (``resume`` from its write record, ``reconcile``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from .. import _protocol
from .._errors import APIError
from .._fanout import Fanout, done_outcome, resolve_concurrency
from .._models import Deployment, PromoteRequest, Promotion, TargetVerdict
from .._options import FanoutSettings, ReconcileSettings
from .._outcomes import PromotionState
from .._promote_outcome import PromoteOutcome
from .._reconcile import (
    DEFAULT_RECONCILE_TIMEOUT,
    DEFAULT_SETTLE,
    Reconciler,
    check_reconcile_options,
    plausible_sent_at,
)
from .._record import Send, TargetOutcome, WriteRecord
from .._resolve import resolve
from .._result_errors import BuildChangedError, WaitAllError
from ._current import in_order, off_build, prepare
from ._raw import Resource

__all__ = ["PipelineWrites", "build_moved", "record_of"]


def build_moved(
    record: WriteRecord, promotions: Sequence[Promotion], deployments: Sequence[Deployment]
) -> BuildChangedError | None:
    """The error of a promotion whose deployments carry another build than the one checked
    before sending (the source moved between the check and the POST), else ``None``."""
    wrong = off_build(record.build, promotions, deployments)
    if not wrong or record.build is None:
        return None
    apps = ", ".join(str(d.app_id) for d in wrong)
    return BuildChangedError(
        f"the promotion deployed {wrong[0].build}, not the checked {record.build}, to "
        f"{apps}: the source's build moved between the check and the request",
        expected=record.build,
        actual=wrong[0].build,
        deployments=wrong,
    )


def record_of(request: PromoteRequest, targets: Iterable[TargetOutcome]) -> WriteRecord:
    """The write record ``targets`` describe, checked against ``request`` (``ValueError``
    naming the problem, before any I/O)."""
    given = list(targets)
    if any(not isinstance(t, TargetOutcome) for t in given):
        raise ValueError("targets: expected TargetOutcome objects (e.g. outcome.targets)")
    for outcome in given:
        _check_fields(outcome)
    if sorted(t.target_app_id.int for t in given) != sorted(t.int for t in request.target_app_ids):
        raise ValueError("targets: expected one TargetOutcome per target of the request")
    by_target = {t.target_app_id: t for t in given}
    ordered = [by_target[t] for t in request.target_app_ids]
    for outcome in ordered:
        if outcome.state is PromotionState.REJECTED:
            raise ValueError(
                f"targets: {outcome.target_app_id} was rejected by the API; nothing to resume"
            )
        if outcome.state is PromotionState.PROMOTED and outcome.deployment_id is None:
            raise ValueError(f"targets: {outcome.target_app_id} is promoted without a deployment")
        if outcome.state is PromotionState.UNKNOWN and outcome.sent_at is None:
            raise ValueError(
                f"targets: {outcome.target_app_id} is unknown without sent_at: the window to "
                "look in cannot be bounded"
            )
    return WriteRecord.of(ordered)


def _check_fields(outcome: TargetOutcome) -> None:
    """Each field of ``outcome`` of its type (a record rebuilt by hand or from a journal:
    a naive ``sent_at`` would bound the window in the local zone), ``sent_at`` a time a
    request can have been sent; ``ValueError`` naming the field."""
    if not isinstance(outcome.target_app_id, uuid.UUID):
        raise ValueError(f"targets: target_app_id {outcome.target_app_id!r} is not a UUID"[:200])
    where = f"targets: {outcome.target_app_id}"
    if not isinstance(outcome.state, PromotionState):
        raise ValueError(f"{where}: state {outcome.state!r} is not a PromotionState"[:200])
    if outcome.deployment_id is not None and not isinstance(outcome.deployment_id, uuid.UUID):
        raise ValueError(f"{where}: deployment_id {outcome.deployment_id!r} is not a UUID"[:200])
    sent_at = outcome.sent_at
    if sent_at is None:
        return
    if not isinstance(sent_at, datetime) or sent_at.utcoffset() is None:
        raise ValueError(f"{where}: sent_at must be an aware datetime, got {sent_at!r}"[:200])
    if not plausible_sent_at(sent_at):
        raise ValueError(f"{where}: sent_at must be between 1970 and 9000, got {sent_at}")


class PipelineWrites(Resource):
    """The write plumbing of :class:`Pipelines`: the recorded promote every write path
    shares (``promote_request``, the fan-out, ``resume``), the fan-out it builds, and the
    recovery of an ``unknown`` promotion (``resume``, ``reconcile``)."""

    async def _promote_recorded(
        self, request: PromoteRequest, record: WriteRecord, reconcile: ReconcileSettings
    ) -> list[Promotion]:
        """Promote ``request``, noting on the caller's ``record`` when it left and, with
        ``reconcile``, settling an ``unknown`` outcome target by target on it. With
        ``expect_build`` or ``skip_current`` the source's build is checked first (and
        noted on the record), and only the targets behind it are sent."""
        if request.expect_build is None and not reconcile.skip_current:
            return await self._promote_sent(request, record, reconcile)
        prepared = await prepare(self._core, request, skip_current=reconcile.skip_current)
        record.build = prepared.build
        current = list(prepared.current.values())
        for promotion in current:  # nothing is sent for these
            record.promoted(promotion.target_app_id, promotion.deployment_id)
        if prepared.request is None:
            return in_order(request, current)
        if current:
            record.covers(prepared.request.target_app_ids)
        made = await self._promote_sent(prepared.request, record, reconcile)
        return in_order(request, made, current)

    async def _promote_sent(
        self, request: PromoteRequest, record: WriteRecord, reconcile: ReconcileSettings
    ) -> list[Promotion]:
        try:
            return await self._send_promote(request, record.send)
        except APIError as error:
            if not reconcile.reconcile or error.promotion_state is not PromotionState.UNKNOWN:
                raise
            return await self._resolve(request, record, reconcile)

    async def _resolve(
        self,
        request: PromoteRequest,
        record: WriteRecord,
        reconcile: ReconcileSettings,
        on_send: Callable[[PromoteRequest], object] | None = None,
    ) -> list[Promotion]:
        core = self._core
        return await resolve(
            request,
            record,
            promote=self._send_checked,
            reconciler=Reconciler(core, core.wall_clock, settle=reconcile.settle, clock=core.clock),
            clock=core.clock,
            sleep=core.sleep,
            timeout=reconcile.timeout,
            on_send=on_send,
        )

    async def _send_checked(self, request: PromoteRequest, send: Send) -> list[Promotion]:
        """A re-send after reconciling: its ``expect_build`` is checked first (the source
        may have moved while the first send was being settled)."""
        if request.expect_build is not None:
            await prepare(self._core, request, skip_current=False)
        return await self._send_promote(request, send)

    async def _send_promote(
        self, request: PromoteRequest, send: Send | None = None
    ) -> list[Promotion]:
        result, _ = await self._call(_protocol.build_promote(request), list[Promotion], send=send)
        return result

    def _fanout(self, requests: Any, concurrency: int | None, settings: FanoutSettings) -> Fanout:
        """The fan-out of :meth:`Pipelines.promote_many` / ``promote_iter``: each request is
        promoted (after queueing for the write budget), then, with ``wait=True``, waited
        for."""
        core, recorded = self._core, self._promote_recorded
        limiter, run = core.budget, self._waiter.promote_then_wait
        plan, on_poll, reconcile = settings.plan, settings.on_poll, settings.reconcile

        async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
            # Queue behind the write budget first (only the promotion does), so the call's
            # timeout starts when it actually gets its turn.
            if not limiter.ready("write"):
                await limiter.wait_ready("write", core.max_hold())
            if not settings.wait:
                result = await recorded(request, record, reconcile)
                return done_outcome(request, index, record, result)
            hook = None if on_poll is None else functools.partial(on_poll, index)
            promote = functools.partial(recorded, record=record, reconcile=reconcile)
            try:
                promotions, deployments = await run(promote, request, plan, on_poll=hook)
            except WaitAllError as error:
                finished = list(error.deployments.values())
                return done_outcome(request, index, record, error.promotions, error, finished)
            moved = build_moved(record, promotions, deployments)
            return done_outcome(request, index, record, promotions, moved, deployments)

        return Fanout(
            requests,
            call,
            concurrency=resolve_concurrency(concurrency, core.pool_limit),
            fail_fast=settings.fail_fast,
            on_progress=settings.on_progress,
            clock=core.clock,
            ledger=settings.ledger,
        )

    async def resume(
        self,
        request: PromoteRequest,
        targets: Iterable[TargetOutcome],
        *,
        reconcile_settle: float = DEFAULT_SETTLE,
        reconcile_timeout: float = DEFAULT_RECONCILE_TIMEOUT,
        on_send: Callable[[PromoteRequest], object] | None = None,
    ) -> list[Promotion]:
        """Finish ``request`` from its record (``targets``: one :class:`TargetOutcome`
        per target, as a fan-out's :attr:`PromoteOutcome.targets` or a journal keeps them),
        never promoting a target twice.

        ``promoted`` targets are kept as they are; ``unknown`` ones are reconciled, each in
        the window of its own ``sent_at``; then the targets verified not promoted and the
        ``not_sent`` ones are promoted in one request (``on_send`` is called with it just
        before it leaves, e.g. to journal it). A ``rejected`` target is an error
        (``ValueError`` before any I/O: the API refused it; send it again yourself if you
        mean it). Returns every target's promotion in target order; raises as
        :meth:`promote` with ``reconcile=True`` does, each error carrying ``targets``.
        """
        if not isinstance(request, PromoteRequest):
            raise ValueError(f"request: expected a PromoteRequest, got {type(request).__name__}")
        check_reconcile_options(reconcile_settle, reconcile_timeout)
        record = record_of(request, targets)
        settings = ReconcileSettings(True, reconcile_settle, reconcile_timeout)
        return await self._resolve(request, record, settings, on_send)

    async def reconcile(
        self,
        request: PromoteRequest,
        *,
        sent_at: datetime,
        settle: float = DEFAULT_SETTLE,
    ) -> list[TargetVerdict]:
        """Was the ``unknown`` promotion ``request``, sent at ``sent_at``, made? One
        :class:`TargetVerdict` per target, in target order, from one look at the source's
        and the targets' deployment histories (GETs only: the read budget).

        ``sent_at`` is an aware datetime (an ambiguous error carries it as ``.sent_at``).
        ``promoted=True`` names the deployment the promotion created; ``False`` (safe to
        promote that target again) is said only once ``settle`` seconds have passed since
        ``sent_at`` with no sign of it; ``None``: cannot decide yet (look again later).
        See the README, "When a promotion's outcome is unknown", for the rules.
        """
        if not isinstance(request, PromoteRequest):
            raise ValueError(f"request: expected a PromoteRequest, got {type(request).__name__}")
        if not isinstance(sent_at, datetime) or sent_at.tzinfo is None:
            raise ValueError("sent_at: expected an aware datetime (e.g. error.sent_at)")
        if not plausible_sent_at(sent_at):  # the window's dates would overflow
            raise ValueError(f"sent_at: must be between 1970 and 9000, got {sent_at}")
        check_reconcile_options(settle, 0.0, settle_name="settle")
        reconciler = Reconciler(self._core, self._core.wall_clock, settle=settle)
        return await reconciler.look(request, sent_at)

"""The many-promotion half of :class:`Pipelines` (``promote_many``, ``promote_iter``) and
its plumbing: the fan-out (each request queued for the write budget, promoted, and with
``wait=True`` waited for), the recorded promote every write path shares, and the write
record ``resume`` starts from.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .. import _protocol
from .._errors import APIError
from .._fanout import Call, Fanout, done_outcome, resolve_concurrency
from .._models import PromoteRequest, PromoteRequestDict, Promotion
from .._options import FanoutKeywords, FanoutSettings, ReconcileSettings, Unpack, takes
from .._outcomes import PromotionState
from .._promote_outcome import PromoteOutcome
from .._reconcile import Reconciler
from .._record import Send, TargetOutcome, WriteRecord
from .._resolve import resolve
from .._result_errors import WaitAllError
from ._raw import Resource

if TYPE_CHECKING:
    from .._core import Core
    from .._wait import Waiter

__all__ = ["PipelinesFanout", "PromoteRecorded", "fanout_of", "record_of"]


class PromoteRecorded(Protocol):
    """Promote a request, noting on the write record when it left (and reconciling)."""

    def __call__(
        self, request: PromoteRequest, record: WriteRecord, reconcile: ReconcileSettings
    ) -> Awaitable[list[Promotion]]: ...


def fanout_of(
    core: Core,
    waiter: Waiter,
    promote: PromoteRecorded,
    requests: Any,
    concurrency: int | None,
    settings: FanoutSettings,
) -> Fanout:
    r"""The fan-out of :meth:`Pipelines.promote_many` / ``promote_iter``: each request is
    ``promote``\ d (after queueing for the write budget), then, with ``wait=True``, waited
    for."""
    limit = resolve_concurrency(concurrency, core.pool_limit)
    limiter = core.budget
    reconcile = settings.reconcile

    async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
        # Queue behind the write budget first, so the call's timeout starts when it
        # actually gets its turn.
        if not limiter.ready("write"):
            await limiter.wait_ready("write", core.max_hold())
        result = await promote(request, record, reconcile)
        return done_outcome(request, index, record, result)

    work: Call = _waiting_call(core, waiter, promote, settings) if settings.wait else call

    return Fanout(
        requests,
        work,
        concurrency=limit,
        fail_fast=settings.fail_fast,
        on_progress=settings.on_progress,
        clock=core.clock,
        ledger=settings.ledger,
    )


def _waiting_call(
    core: Core, waiter: Waiter, recorded: PromoteRecorded, settings: FanoutSettings
) -> Call:
    """The fan-out's work for ``wait=True``: promote, then wait."""
    plan, on_poll, reconcile = settings.plan, settings.on_poll, settings.reconcile
    limiter = core.budget
    run = waiter.promote_then_wait

    async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
        if not limiter.ready("write"):  # only the promotion queues for the write budget
            await limiter.wait_ready("write", core.max_hold())
        hook = None if on_poll is None else functools.partial(on_poll, index)
        promote = functools.partial(recorded, record=record, reconcile=reconcile)
        try:
            promotions, deployments = await run(promote, request, plan, on_poll=hook)
        except WaitAllError as error:
            finished = list(error.deployments.values())
            return done_outcome(request, index, record, error.promotions, error, finished)
        return done_outcome(request, index, record, promotions, None, deployments)

    return call


def record_of(request: PromoteRequest, targets: Iterable[TargetOutcome]) -> WriteRecord:
    """The write record ``targets`` describe, checked against ``request`` (``ValueError``
    naming the problem, before any I/O)."""
    given = list(targets)
    if any(not isinstance(t, TargetOutcome) for t in given):
        raise ValueError("targets: expected TargetOutcome objects (e.g. outcome.targets)")
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


class PipelinesFanout(Resource):
    """The part of :class:`Pipelines` that sends many promotions (``promote_many``,
    ``promote_iter``), and the recorded promote they share with ``promote_request`` and
    ``resume``."""

    async def _promote_recorded(
        self, request: PromoteRequest, record: WriteRecord, reconcile: ReconcileSettings
    ) -> list[Promotion]:
        """Promote ``request``, noting on the caller's ``record`` when it left and, with
        ``reconcile``, settling an ``unknown`` outcome target by target on it."""
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
            promote=self._send_promote,
            reconciler=Reconciler(core, core.wall_clock, settle=reconcile.settle, clock=core.clock),
            clock=core.clock,
            sleep=core.sleep,
            timeout=reconcile.timeout,
            on_send=on_send,
        )

    async def _send_promote(
        self, request: PromoteRequest, send: Send | None = None
    ) -> list[Promotion]:
        result, _ = await self._call(_protocol.build_promote(request), list[Promotion], send=send)
        return result

    def _fanout(self, requests: Any, concurrency: int | None, settings: FanoutSettings) -> Fanout:
        return fanout_of(
            self._core, self._waiter, self._promote_recorded, requests, concurrency, settings
        )

    @takes(FanoutKeywords)
    async def promote_many(
        self,
        requests: Iterable[PromoteRequest | PromoteRequestDict]
        | AsyncIterable[PromoteRequest | PromoteRequestDict],
        *,
        concurrency: int | None = None,
        **keywords: Unpack[FanoutKeywords],
    ) -> list[PromoteOutcome]:
        """Promote many pipelines at once; one :class:`PromoteOutcome` per input, in input
        order.

        ``requests`` is any iterable or async iterable of :class:`PromoteRequest` objects or
        dicts with the API's keys (``pipeline_id``, ``source_app_id``, ``target_app_ids``);
        it is read lazily, as requests complete. At most ``concurrency`` requests are in
        flight (default 32, never more than the connection pool allows). The other keyword
        options (``fail_fast``, ``on_progress``, ``wait``, ``wait_timeout``,
        ``poll_interval``, ``on_poll``, ``ledger``, ``reconcile``...) and their defaults are
        those of :class:`FanoutKeywords`; every one is checked before anything is sent
        (``ValueError``; an unknown keyword is a ``TypeError``). Each entry is validated
        before it is scheduled: an invalid one becomes an outcome whose ``error`` is the
        ``ValueError`` and whose ``request`` is the raw entry.

        One failure never cancels the rest: each outcome carries its request and either its
        promotions or its error. With ``fail_fast=True`` the first failure stops sending;
        requests already in flight finish, and every later input gets a ``skipped``
        outcome (``sent`` false), so you know exactly which were never sent.

        ``on_progress`` is called with a :class:`FanoutProgress` after every outcome (done,
        failed, total, rate, ETA...); keep it quick, it runs in the event loop.

        Waiting for the API's rate limit does not count against each call's timeout: a
        fan-out simply runs as fast as the budget allows. If the caller is cancelled, the
        requests in flight are cancelled and awaited before the cancellation propagates.

        **Promote, then wait.** With ``wait=True`` one unit of work is "promote this
        request, then wait for its deployments to finish" (as
        :meth:`promote_and_wait_request`), so ``concurrency`` bounds the requests being
        promoted *or* waited for. Each outcome then has ``deployments`` (final states, in
        target order): check :attr:`PromoteOutcome.succeeded` for "every deployment ended
        ``success``"; ``ok`` stays "no error". A deployment that could not be waited for
        to the end makes the outcome's ``error`` a :class:`WaitAllError`, with
        ``promotions`` still set (the promotion happened). ``wait_timeout`` bounds each
        request from its turn (after any rate-limit queueing), its promotion included;
        polls of one deployment come at least ``poll_interval`` seconds apart.
        ``on_poll(index, deployment)`` is called with the input position and each
        deployment a poll returns. The polls of every request share the client's poll
        budget (half the API's read limit, as for :meth:`Deployments.wait`), so a large
        fan-out stays under the API's read limit. With ``fail_fast``, a failed deployment
        is not a failure (only an ``error`` is). These options are used only with
        ``wait`` (and checked always)::

            outcomes = await client.pipelines.promote_many(plan, wait=True, wait_timeout=600)
            failed = [o for o in outcomes if not o.succeeded]

        **Every entry accounted for.** Each outcome has a ``state``
        (:class:`PromotionState`) and, when its request left, ``sent_at``. If the input
        raises, no further entry is read, the requests in flight finish, and
        :class:`FanoutError` is raised with ``outcomes`` (every entry read, input order)
        and the input's exception as ``__cause__``. If the fan-out is cancelled, the
        ``CancelledError`` propagates unchanged; pass a :class:`FanoutLedger` as ``ledger``
        to keep an outcome for every entry read (in flight at the cancel: ``unknown`` with
        its ``sent_at``). ``reconcile``, ``reconcile_settle`` and ``reconcile_timeout`` are
        those of :meth:`promote`, per entry (a target left undecided makes the entry's
        error a :class:`PromotionUnresolvedError`).
        """
        settings = FanoutSettings.of(self.promote_many, keywords)
        return await self._fanout(requests, concurrency, settings).collect()

    @takes(FanoutKeywords)
    def promote_iter(
        self,
        requests: Iterable[PromoteRequest | PromoteRequestDict]
        | AsyncIterable[PromoteRequest | PromoteRequestDict],
        *,
        concurrency: int | None = None,
        **keywords: Unpack[FanoutKeywords],
    ) -> AsyncGenerator[PromoteOutcome, None]:
        """Like :meth:`promote_many` (the same ``concurrency`` and :class:`FanoutKeywords`),
        but yields each :class:`PromoteOutcome` as it completes (completion order;
        ``outcome.index`` is the input position).

        Memory stays bounded whatever the size of the input: the input is read only as
        requests complete, and reading pauses while you are not consuming outcomes. Use it
        for progress and for inputs too large to hold::

            async with contextlib.aclosing(client.pipelines.promote_iter(plan)) as outcomes:
                async for outcome in outcomes:
                    print(outcome.index, "ok" if outcome.ok else outcome.error)

        Without a ``ledger`` no outcome is kept once yielded, so if the input raises,
        the :class:`FanoutError` (raised after every outcome was yielded) has empty
        ``outcomes``; pass a :class:`FanoutLedger` to keep them all (memory then grows
        with the input).

        Closing the iterator early (``aclose()``, which ``aclosing`` does on ``break``)
        cancels the requests in flight and waits for them (with ``wait=True``, stopping
        the wait does not cancel the deployments).
        """
        settings = FanoutSettings.of(self.promote_iter, keywords)
        return self._fanout(requests, concurrency, settings).stream()

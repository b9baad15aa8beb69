"""``client.pipelines``: promote, and read pipelines."""

from __future__ import annotations

import functools
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from .. import _protocol, _wait
from .._errors import APIError
from .._fanout import Call, Fanout, done_outcome, resolve_concurrency
from .._ids import TargetAppIds
from .._models import (
    Deployment,
    Pipeline,
    PromoteRequest,
    PromoteRequestDict,
    Promotion,
    TargetVerdict,
)
from .._options import (
    FanoutKeywords,
    FanoutSettings,
    PromoteAndWaitKeywords,
    ReconcileSettings,
    Unpack,
    WaitSettings,
    takes,
)
from .._outcomes import PromotionState
from .._promote_outcome import PromoteOutcome
from .._reconcile import (
    DEFAULT_RECONCILE_TIMEOUT,
    DEFAULT_SETTLE,
    Reconciler,
    check_reconcile_options,
)
from .._record import Send, TargetOutcome, WriteRecord
from .._replies import PipelineDetail, PipelinePage
from .._resolve import resolve
from .._response import APIResponse
from .._result_errors import WaitAllError
from .._wire import TransportResponse
from ._paging import check_page_size, iterate_pages

if TYPE_CHECKING:
    from .._core import Core

__all__ = ["Pipelines", "PipelinesWithRawResponse"]


class Pipelines:
    """Pipeline operations, reached as ``client.pipelines``."""

    def __init__(self, core: Core, waiter: _wait.Waiter) -> None:
        self._core = core
        self._waiter = waiter
        self.with_raw_response: PipelinesWithRawResponse = PipelinesWithRawResponse(self)
        """The same single-request methods, returning an :class:`APIResponse` (status,
        headers, request id, body) whose ``parse()`` gives the usual result."""

    async def promote(
        self,
        pipeline_id: uuid.UUID | str,
        *,
        source_app_id: uuid.UUID | str,
        target_app_ids: TargetAppIds,
        reconcile: bool = False,
        reconcile_settle: float = DEFAULT_SETTLE,
        reconcile_timeout: float = DEFAULT_RECONCILE_TIMEOUT,
    ) -> list[Promotion]:
        """Promote the latest successful build of ``source_app_id`` to every target app.

        Returns one :class:`Promotion` per target, with the id of the deployment it
        started. Invalid ids raise ``ValueError`` (naming the field) before anything is
        sent. The POST is retried only when it certainly did not reach the API (a 429, or a
        connection that could not be opened), so a promotion is never made twice; a 5xx or
        a connection lost after sending raises, because the promotion may have happened.
        Every error it raises carries ``promotion_state`` (and ``sent_at`` when that is
        ``unknown``).

        With ``reconcile=True`` an ``unknown`` outcome is settled instead of raised: the
        targets' deployment histories are read (:meth:`reconcile`) until every target is
        decided (``reconcile_settle`` is the settle period; give up after
        ``reconcile_timeout`` seconds with :class:`PromotionUnresolvedError`), then only the
        targets verified not promoted are promoted again, in one request. The result then
        holds every target's promotion, found or new, in target order.
        """
        request = PromoteRequest(pipeline_id, source_app_id, target_app_ids)
        return await self.promote_request(
            request,
            reconcile=reconcile,
            reconcile_settle=reconcile_settle,
            reconcile_timeout=reconcile_timeout,
        )

    async def promote_request(
        self,
        request: PromoteRequest,
        *,
        reconcile: bool = False,
        reconcile_settle: float = DEFAULT_SETTLE,
        reconcile_timeout: float = DEFAULT_RECONCILE_TIMEOUT,
    ) -> list[Promotion]:
        """Like :meth:`promote`, from a ready :class:`PromoteRequest`."""
        if not reconcile:
            return await self._send_promote(request)
        check_reconcile_options(reconcile_settle, reconcile_timeout)
        settings = ReconcileSettings(True, reconcile_settle, reconcile_timeout)
        record = WriteRecord(request.target_app_ids)
        return await self._promote_recorded(request, record, settings)

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
        record = _record_of(request, targets)
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
        check_reconcile_options(settle, 0.0, settle_name="settle")
        reconciler = Reconciler(self._core, self._core.wall_clock, settle=settle)
        return await reconciler.look(request, sent_at)

    async def _send_promote(
        self, request: PromoteRequest, send: Send | None = None
    ) -> list[Promotion]:
        result, _ = await self._promote_reply(request, send)
        return result

    async def _promote_reply(
        self, request: PromoteRequest, send: Send | None = None
    ) -> tuple[list[Promotion], TransportResponse]:
        reply: tuple[list[Promotion], TransportResponse] = await self._core.request_with_reply(
            _protocol.build_promote(request), list[Promotion], send=send
        )
        return reply

    @takes(PromoteAndWaitKeywords)
    async def promote_and_wait(
        self,
        pipeline_id: uuid.UUID | str,
        *,
        source_app_id: uuid.UUID | str,
        target_app_ids: TargetAppIds,
        timeout: float | None = _wait.DEFAULT_TIMEOUT,
        concurrency: int = _wait.DEFAULT_WAIT_CONCURRENCY,
        poll_interval: float = _wait.DEFAULT_POLL_INTERVAL,
        **keywords: Unpack[PromoteAndWaitKeywords],
    ) -> list[Deployment]:
        """Promote, then wait for the deployment of every target to finish.

        ::

            deployments = await client.pipelines.promote_and_wait(
                pipeline_id, source_app_id=staging, target_app_ids=[eu, us], timeout=600
            )
            for d in deployments:
                print(d.app_id, "ok" if d.succeeded else d.status)

        Returns the final :class:`Deployment` of each target, in the order of
        ``target_app_ids``; a failed deployment is a result (check
        :attr:`Deployment.succeeded`).

        Errors: invalid arguments raise ``ValueError`` before anything is sent. If the
        promotion itself fails, its error is raised (nothing to wait for; as with
        :meth:`promote`, it is not retried when it may have happened). If some deployment
        cannot be waited for to the end, the others still are, then :class:`WaitAllError`
        is raised with every result (``results``) and the promotions (``promotions``).

        Args:
            timeout: seconds from the call, the promotion included (default 15 minutes;
                ``None``: no limit; the promotion's own request is bounded by the client's
                ``timeout``).
            concurrency: deployments polled at once, as :meth:`Deployments.wait_all`.
            poll_interval: the shortest time between two polls of one deployment.
            **keywords: the polling options of :class:`WaitKeywords` (as
                :meth:`Deployments.wait`) and the ``reconcile`` options of
                :class:`ReconcileKeywords` (as :meth:`promote`; the promotion's own
                settling counts against ``reconcile_timeout``, not ``timeout``).
        """
        settings = WaitSettings.of(
            self.promote_and_wait,
            keywords,
            PromoteAndWaitKeywords,
            timeout=timeout,
            poll_interval=poll_interval,
            concurrency=concurrency,
        )
        request = PromoteRequest(pipeline_id, source_app_id, target_app_ids)
        return await self._promote_and_wait(request, settings)

    @takes(PromoteAndWaitKeywords)
    async def promote_and_wait_request(
        self,
        request: PromoteRequest,
        *,
        timeout: float | None = _wait.DEFAULT_TIMEOUT,
        concurrency: int = _wait.DEFAULT_WAIT_CONCURRENCY,
        poll_interval: float = _wait.DEFAULT_POLL_INTERVAL,
        **keywords: Unpack[PromoteAndWaitKeywords],
    ) -> list[Deployment]:
        """Like :meth:`promote_and_wait`, from a ready :class:`PromoteRequest`: one request
        in, its final deployments out (or an error raised), so a fan-out can run it per
        request (``functools.partial`` it with the options)."""
        settings = WaitSettings.of(
            self.promote_and_wait_request,
            keywords,
            PromoteAndWaitKeywords,
            timeout=timeout,
            poll_interval=poll_interval,
            concurrency=concurrency,
        )
        if not isinstance(request, PromoteRequest):
            raise ValueError(f"request: expected a PromoteRequest, got {type(request).__name__}")
        return await self._promote_and_wait(request, settings)

    async def _promote_and_wait(
        self, request: PromoteRequest, settings: WaitSettings
    ) -> list[Deployment]:
        promote = self._promoter(settings.reconcile)
        _, deployments = await self._waiter.promote_then_wait(
            promote, request, settings.plan, on_poll=settings.on_poll
        )
        return deployments

    def _promoter(
        self, reconcile: ReconcileSettings
    ) -> Callable[[PromoteRequest], Awaitable[list[Promotion]]]:
        """:meth:`promote_request` with these ``reconcile`` options."""
        return functools.partial(
            self.promote_request,
            reconcile=reconcile.reconcile,
            reconcile_settle=reconcile.settle,
            reconcile_timeout=reconcile.timeout,
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

    def _fanout(self, requests: Any, concurrency: int | None, settings: FanoutSettings) -> Fanout:
        core = self._core
        limit = resolve_concurrency(concurrency, core.pool_limit)
        limiter = core.budget
        reconcile = settings.reconcile
        promote = self._promote_recorded

        async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
            # Queue behind the write budget first, so the call's timeout starts when it
            # actually gets its turn.
            if not limiter.ready("write"):
                await limiter.wait_ready("write", core.max_hold())
            result = await promote(request, record, reconcile)
            return done_outcome(request, index, record, result)

        work: Call = self._waiting_call(settings) if settings.wait else call

        return Fanout(
            requests,
            work,
            concurrency=limit,
            fail_fast=settings.fail_fast,
            on_progress=settings.on_progress,
            clock=core.clock,
            ledger=settings.ledger,
        )

    def _waiting_call(self, settings: FanoutSettings) -> Call:
        """The fan-out's work for ``wait=True``: promote, then wait."""
        plan, on_poll, reconcile = settings.plan, settings.on_poll, settings.reconcile
        limiter = self._core.budget
        run = self._waiter.promote_then_wait
        recorded = self._promote_recorded

        async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
            if not limiter.ready("write"):  # only the promotion queues for the write budget
                await limiter.wait_ready("write", self._core.max_hold())
            hook = None if on_poll is None else functools.partial(on_poll, index)
            promote = functools.partial(recorded, record=record, reconcile=reconcile)
            try:
                promotions, deployments = await run(promote, request, plan, on_poll=hook)
            except WaitAllError as error:
                finished = list(error.deployments.values())
                return done_outcome(request, index, record, error.promotions, error, finished)
            return done_outcome(request, index, record, promotions, None, deployments)

        return call

    async def get(self, pipeline_id: uuid.UUID | str) -> Pipeline:
        """The pipeline with all its stages and their settings (``GET /pipelines/{id}``).

        Raises :class:`NotFoundError` for an unknown pipeline.
        """
        pipeline, _ = await self._get_reply(pipeline_id)
        return pipeline

    async def _get_reply(self, pipeline_id: uuid.UUID | str) -> tuple[Pipeline, TransportResponse]:
        # PipelineDetail is a decode target that checks more keys and gives a Pipeline.
        detail, reply = await self._core.request_with_reply(
            _protocol.get_pipeline_request(pipeline_id), PipelineDetail
        )
        return cast(Pipeline, detail), reply

    def list(self, *, page_size: int = 100) -> AsyncIterator[Pipeline]:
        """Every pipeline of the company, paging for you.

        ::

            async for pipeline in client.pipelines.list():
                print(pipeline.display_name, [s.display_name for s in pipeline.stages])

        Pages of ``page_size`` (1-100) are fetched only as you iterate. The list endpoint
        gives each stage's id, name, type and order only, and no ``company_id`` /
        ``project_id``: :meth:`get` a pipeline for the rest.
        """
        check_page_size(page_size)

        async def fetch(limit: int, offset: int) -> tuple[list[Pipeline], int]:
            page: PipelinePage = await self._core.request(
                _protocol.list_pipelines_request(limit=limit, offset=offset),
                PipelinePage,
            )
            return page.data, page.total

        return iterate_pages(fetch, page_size=page_size, key=_pipeline_id)


def _pipeline_id(pipeline: Pipeline) -> uuid.UUID:
    return pipeline.id


class PipelinesWithRawResponse:
    """``client.pipelines.with_raw_response``: the methods of :class:`Pipelines` that
    make one request, returning :class:`APIResponse` instead of the model.

    Arguments and errors are those of the plain methods. ``reconcile`` is not offered: a
    reconciled promotion is many requests, with no one reply to show.
    """

    def __init__(self, pipelines: Pipelines) -> None:
        self._pipelines = pipelines

    async def promote(
        self,
        pipeline_id: uuid.UUID | str,
        *,
        source_app_id: uuid.UUID | str,
        target_app_ids: TargetAppIds,
    ) -> APIResponse[list[Promotion]]:
        """:meth:`Pipelines.promote`, with the reply."""
        request = PromoteRequest(pipeline_id, source_app_id, target_app_ids)
        return APIResponse(*await self._pipelines._promote_reply(request))

    async def promote_request(self, request: PromoteRequest) -> APIResponse[list[Promotion]]:
        """:meth:`Pipelines.promote_request`, with the reply."""
        if not isinstance(request, PromoteRequest):
            raise ValueError(f"request: expected a PromoteRequest, got {type(request).__name__}")
        return APIResponse(*await self._pipelines._promote_reply(request))

    async def get(self, pipeline_id: uuid.UUID | str) -> APIResponse[Pipeline]:
        """:meth:`Pipelines.get`, with the reply."""
        return APIResponse(*await self._pipelines._get_reply(pipeline_id))


def _record_of(request: PromoteRequest, targets: Iterable[TargetOutcome]) -> WriteRecord:
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

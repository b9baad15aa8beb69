"""``client.pipelines``: promote, and read pipelines."""

from __future__ import annotations

import functools
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Iterable,
)
from typing import cast

from .. import _protocol, _wait
from .._ids import TargetAppIds
from .._models import (
    Build,
    Deployment,
    Pipeline,
    PromoteRequest,
    PromoteRequestDict,
    Promotion,
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
from .._promote_outcome import PromoteOutcome
from .._reconcile import (
    DEFAULT_RECONCILE_TIMEOUT,
    DEFAULT_SETTLE,
    check_reconcile_options,
)
from .._record import WriteRecord
from .._replies import PipelineDetail, PipelinePage
from .._response import APIResponse
from ._paging import check_page_size, iterate_pages
from ._pipelines_writes import PipelineWrites, build_moved
from ._raw import RawView

__all__ = ["Pipelines", "PipelinesWithRawResponse"]


class Pipelines(PipelineWrites):
    """Pipeline operations, reached as ``client.pipelines``."""

    with_raw_response: PipelinesWithRawResponse
    """The same single-request methods, returning an :class:`APIResponse` (status,
    headers, request id, body) whose ``parse()`` gives the usual result."""

    def _raw_view(self) -> PipelinesWithRawResponse:
        return PipelinesWithRawResponse(self)

    async def promote(
        self,
        pipeline_id: uuid.UUID | str,
        *,
        source_app_id: uuid.UUID | str,
        target_app_ids: TargetAppIds,
        reconcile: bool = False,
        reconcile_settle: float = DEFAULT_SETTLE,
        reconcile_timeout: float = DEFAULT_RECONCILE_TIMEOUT,
        expect_build: Build | str | None = None,
        skip_current: bool = False,
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

        ``expect_build`` (a :class:`Build`, a commit sha of 7+ characters, or an image
        URL): the build you verified. The source's current build is read first; if it is
        another, :class:`BuildChangedError` is raised and nothing is sent.
        ``skip_current=True``: the targets that already run the source's current build are
        not sent; they come back as ``Promotion(..., already_current=True)`` with the
        deployment that put it there (a request whose targets are all current sends no
        POST). Either costs one read of the source's deployments (and, to skip, one per
        target): GETs, the read budget.
        """
        request = PromoteRequest(
            pipeline_id, source_app_id, target_app_ids, expect_build=expect_build
        )
        return await self.promote_request(
            request,
            reconcile=reconcile,
            reconcile_settle=reconcile_settle,
            reconcile_timeout=reconcile_timeout,
            skip_current=skip_current,
        )

    async def promote_request(
        self,
        request: PromoteRequest,
        *,
        reconcile: bool = False,
        reconcile_settle: float = DEFAULT_SETTLE,
        reconcile_timeout: float = DEFAULT_RECONCILE_TIMEOUT,
        skip_current: bool = False,
    ) -> list[Promotion]:
        """Like :meth:`promote`, from a ready :class:`PromoteRequest` (whose
        ``expect_build`` is checked)."""
        if not reconcile and not skip_current and request.expect_build is None:
            return await self._send_promote(request)
        check_reconcile_options(reconcile_settle, reconcile_timeout)
        if not isinstance(skip_current, bool):
            raise ValueError(f"skip_current: expected True or False, got {skip_current!r}")
        settings = ReconcileSettings(reconcile, reconcile_settle, reconcile_timeout, skip_current)
        return await self._promote_recorded(request, WriteRecord(request.target_app_ids), settings)

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
        expect_build: Build | str | None = None,
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
            expect_build: as :meth:`promote`. A deployment the promotion started that
                carries another build than the one checked before sending (the source
                moved in between) raises :class:`BuildChangedError` (``promoted``, with
                its ``deployments``) once every deployment has finished.
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
        request = PromoteRequest(
            pipeline_id, source_app_id, target_app_ids, expect_build=expect_build
        )
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
        record = WriteRecord(request.target_app_ids)
        promote = functools.partial(
            self._promote_recorded, record=record, reconcile=settings.reconcile
        )
        promotions, deployments = await self._waiter.promote_then_wait(
            promote, request, settings.plan, on_poll=settings.on_poll
        )
        moved = build_moved(record, promotions, deployments)
        if moved is not None:
            raise moved
        return deployments

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

    async def get(self, pipeline_id: uuid.UUID | str) -> Pipeline:
        """The pipeline with all its stages and their settings (``GET /pipelines/{id}``).

        Raises :class:`NotFoundError` for an unknown pipeline.
        """
        # PipelineDetail is a decode target that checks more keys and gives a Pipeline.
        detail, _ = await self._call(_protocol.get_pipeline_request(pipeline_id), PipelineDetail)
        return cast(Pipeline, detail)

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

        return iterate_pages(fetch, page_size=page_size, key=lambda pipeline: pipeline.id)


class PipelinesWithRawResponse(RawView["Pipelines"]):
    """``client.pipelines.with_raw_response``: the methods of :class:`Pipelines` that
    make one request, returning :class:`APIResponse` instead of the model.

    Arguments and errors are those of the plain methods. ``reconcile`` is not offered: a
    reconciled promotion is many requests, with no one reply to show.
    """

    async def promote(
        self,
        pipeline_id: uuid.UUID | str,
        *,
        source_app_id: uuid.UUID | str,
        target_app_ids: TargetAppIds,
    ) -> APIResponse[list[Promotion]]:
        """:meth:`Pipelines.promote`, with the reply."""
        return await self._with_reply(
            Pipelines.promote,
            pipeline_id,
            source_app_id=source_app_id,
            target_app_ids=target_app_ids,
        )

    async def promote_request(self, request: PromoteRequest) -> APIResponse[list[Promotion]]:
        """:meth:`Pipelines.promote_request`, with the reply."""
        if not isinstance(request, PromoteRequest):
            raise ValueError(f"request: expected a PromoteRequest, got {type(request).__name__}")
        return await self._with_reply(Pipelines.promote_request, request)

    async def get(self, pipeline_id: uuid.UUID | str) -> APIResponse[Pipeline]:
        """:meth:`Pipelines.get`, with the reply."""
        return await self._with_reply(Pipelines.get, pipeline_id)

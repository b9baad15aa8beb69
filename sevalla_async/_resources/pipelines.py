"""``client.pipelines``: promote, and read pipelines."""

from __future__ import annotations

import functools
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
)
from datetime import datetime
from typing import TYPE_CHECKING, cast

from .. import _protocol, _wait
from .._ids import TargetAppIds
from .._models import (
    Deployment,
    Pipeline,
    PromoteRequest,
    Promotion,
    TargetVerdict,
)
from .._options import (
    PromoteAndWaitKeywords,
    ReconcileSettings,
    Unpack,
    WaitSettings,
    takes,
)
from .._reconcile import (
    DEFAULT_RECONCILE_TIMEOUT,
    DEFAULT_SETTLE,
    Reconciler,
    check_reconcile_options,
)
from .._record import TargetOutcome, WriteRecord
from .._replies import PipelineDetail, PipelinePage
from .._response import APIResponse
from ._paging import check_page_size, iterate_pages
from ._pipelines_fanout import PipelinesFanout, record_of
from ._raw import RawView

if TYPE_CHECKING:
    pass

__all__ = ["Pipelines", "PipelinesWithRawResponse"]


class Pipelines(PipelinesFanout):
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
        check_reconcile_options(settle, 0.0, settle_name="settle")
        reconciler = Reconciler(self._core, self._core.wall_clock, settle=settle)
        return await reconciler.look(request, sent_at)

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

        return iterate_pages(fetch, page_size=page_size, key=_pipeline_id)


def _pipeline_id(pipeline: Pipeline) -> uuid.UUID:
    return pipeline.id


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

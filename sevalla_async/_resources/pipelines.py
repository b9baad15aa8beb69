"""``client.pipelines``: promote, and read pipelines."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from .. import _protocol
from .._models import Pipeline, PromoteRequest, Promotion
from ._paging import iterate_pages

if TYPE_CHECKING:
    from .._client import SevallaClient

__all__ = ["Pipelines"]


class Pipelines:
    """Pipeline operations, reached as ``client.pipelines``."""

    def __init__(self, client: SevallaClient) -> None:
        self._client = client

    async def promote(
        self,
        pipeline_id: uuid.UUID | str,
        *,
        source_app_id: uuid.UUID | str,
        target_app_ids: Iterable[uuid.UUID | str],
    ) -> list[Promotion]:
        """Promote the latest successful build of ``source_app_id`` to every target app.

        Returns one :class:`Promotion` per target, with the id of the deployment it
        started. Invalid ids raise ``ValueError`` (naming the field) before anything is
        sent. The POST is retried only when it certainly did not reach the API (a 429, or a
        connection that could not be opened), so a promotion is never made twice; a 5xx or
        a connection lost after sending raises, because the promotion may have happened.
        """
        request = PromoteRequest(pipeline_id, source_app_id, target_app_ids)
        return await self.promote_request(request)

    async def promote_request(self, request: PromoteRequest) -> list[Promotion]:
        """Like :meth:`promote`, from a ready :class:`PromoteRequest`."""
        result: list[Promotion] = await self._client._request(
            _protocol.promote_request(request), list[Promotion]
        )
        return result

    async def get(self, pipeline_id: uuid.UUID | str) -> Pipeline:
        """The pipeline with all its stages (``GET /pipelines/{id}``)."""
        result: Pipeline = await self._client._request(
            _protocol.get_pipeline_request(pipeline_id), Pipeline
        )
        return result

    def list(self, *, page_size: int = 100) -> AsyncIterator[Pipeline]:
        """Every pipeline of the company, paging for you (``page_size`` per request, 1-100).

        ::

            async for pipeline in client.pipelines.list():
                print(pipeline.display_name)
        """
        _protocol.page_params(page_size, 0)

        async def fetch(limit: int, offset: int) -> tuple[list[Pipeline], int]:
            page: _protocol.PipelinePage = await self._client._request(
                _protocol.list_pipelines_request(limit=limit, offset=offset),
                _protocol.PipelinePage,
            )
            return page.data, page.total

        return iterate_pages(fetch, page_size=page_size)

"""``client.deployments``: read, cancel and wait for deployments."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from .. import _protocol
from .._models import Deployment
from ._paging import iterate_pages

if TYPE_CHECKING:
    from .._client import SevallaClient

__all__ = ["Deployments"]


class Deployments:
    """Deployment operations, reached as ``client.deployments``."""

    def __init__(self, client: SevallaClient) -> None:
        self._client = client

    async def get(self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> Deployment:
        """One deployment of an application, with its current status."""
        result: Deployment = await self._client._request(
            _protocol.get_deployment_request(app_id, deployment_id), Deployment
        )
        return result

    def list(self, app_id: uuid.UUID | str, *, page_size: int = 100) -> AsyncIterator[Deployment]:
        """Every deployment of an application, most recent first, paging for you."""
        _protocol.page_params(page_size, 0)
        first = _protocol.list_deployments_request(app_id, limit=page_size, offset=0)

        async def fetch(limit: int, offset: int) -> tuple[list[Deployment], int]:
            request = (
                first
                if offset == 0
                else _protocol.list_deployments_request(app_id, limit=limit, offset=offset)
            )
            page: _protocol.DeploymentPage = await self._client._request(
                request, _protocol.DeploymentPage
            )
            return page.data, page.total

        return iterate_pages(fetch, page_size=page_size)

    async def cancel(self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> str:
        """Ask the API to cancel a waiting or running deployment; returns its message.

        A finished deployment cannot be cancelled (the API answers with an error).
        """
        reply: _protocol.CancelReply = await self._client._request(
            _protocol.cancel_deployment_request(app_id, deployment_id), _protocol.CancelReply
        )
        return reply.message

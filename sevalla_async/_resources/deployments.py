"""``client.deployments``: read, cancel and wait for deployments."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from .. import _protocol, _wait
from .._ids import to_uuid
from .._models import Deployment, Promotion
from ._paging import check_page_size, iterate_pages

if TYPE_CHECKING:
    from .._core import Core

__all__ = ["Deployments"]


def _deployment_id(deployment: Deployment) -> uuid.UUID:
    return deployment.id


class Deployments:
    """Deployment operations, reached as ``client.deployments``."""

    def __init__(self, core: Core, pacer: _wait.PollPacer) -> None:
        self._core = core
        self._pacer = pacer

    @property
    def max_polls_per_minute(self) -> int | None:
        """How many polls a minute all the waits of this client may start together
        (:meth:`wait`, :meth:`wait_all`, :meth:`Pipelines.promote_and_wait`): default 300,
        under the API's limit of 400 reads a minute, so that other reads still get through.
        Set it lower when several processes share one API key; ``None`` turns pacing off
        (the client still holds requests when the API reports the budget spent)."""
        return self._pacer.per_minute

    @max_polls_per_minute.setter
    def max_polls_per_minute(self, value: int | None) -> None:
        self._pacer.per_minute = value

    async def get(self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> Deployment:
        """One deployment of an application, with its current status
        (``GET /applications/{app_id}/deployments/{deployment_id}``).

        Raises :class:`NotFoundError` for an unknown app or deployment.
        """
        result: Deployment = await self._core.request(
            _protocol.get_deployment_request(app_id, deployment_id), Deployment
        )
        return result

    def list(self, app_id: uuid.UUID | str, *, page_size: int = 100) -> AsyncIterator[Deployment]:
        """Every deployment of an application, most recent first, paging for you.

        ::

            async for deployment in client.deployments.list(app_id):
                print(deployment.id, deployment.status)

        Pages of ``page_size`` (1-100) are fetched only as you iterate: stop early and no
        further page is requested. A deployment started while you iterate does not make an
        older one appear twice. Invalid arguments raise ``ValueError`` at the call.
        """
        app = to_uuid(app_id, "app_id")
        check_page_size(page_size)

        async def fetch(limit: int, offset: int) -> tuple[list[Deployment], int]:
            page: _protocol.DeploymentPage = await self._core.request(
                _protocol.list_deployments_request(app, limit=limit, offset=offset),
                _protocol.DeploymentPage,
            )
            return page.data, page.total

        return iterate_pages(fetch, page_size=page_size, key=_deployment_id)

    async def cancel(self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> str:
        """Ask the API to cancel a waiting or running deployment; returns the API's message.

        A waiting deployment is skipped at once, a running one stopped; poll it (or
        :meth:`wait` for it) to see it end. A deployment that has already finished cannot
        be cancelled: the API answers with an error (an :class:`APIStatusError`). Like
        every POST, it is retried only when the request certainly did not reach the API.
        """
        reply: _protocol.CancelReply = await self._core.request(
            _protocol.cancel_deployment_request(app_id, deployment_id), _protocol.CancelReply
        )
        return reply.message

    async def wait(
        self,
        app_id: uuid.UUID | str,
        deployment_id: uuid.UUID | str,
        *,
        timeout: float | None = _wait.DEFAULT_TIMEOUT,
        poll_interval: float = 2.0,
        max_poll_interval: float = 15.0,
        poll_factor: float = 1.5,
        poll_jitter: float = 0.1,
        on_poll: _wait.OnPoll | None = None,
    ) -> Deployment:
        """Poll a deployment until it has finished, and return it.

        ::

            deployment = await client.deployments.wait(app_id, deployment_id, timeout=600)
            if not deployment.succeeded:
                print("deployment ended", deployment.status)

        A deployment that ends ``failed``, ``cancelled`` or ``skipped`` is *returned*, not
        raised: check :attr:`Deployment.succeeded`. While its status is ``null``,
        ``waiting`` or ``inProgress`` it is not finished.

        Polls start ``poll_interval`` seconds apart (2 s), each interval ``poll_factor``
        times longer than the last (1.5), up to ``max_poll_interval`` (15 s), spread by
        +/- ``poll_jitter`` (10 %). Each poll is a GET: a transient fault is retried by the
        client's retry policy; an error that persists is raised.

        Args:
            timeout: seconds to wait at most (default 15 minutes; ``None``: no limit). When
                the next poll would come after it, :class:`APITimeoutError` is raised with
                ``last_result`` set to the last :class:`Deployment` seen (or ``None``). No
                poll's request outlives it.
            on_poll: called with every deployment a poll returns (e.g. to print progress).
        """
        app = to_uuid(app_id, "app_id")
        deployment = to_uuid(deployment_id, "deployment_id")
        schedule = _wait.PollSchedule(
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            poll_factor=poll_factor,
            poll_jitter=poll_jitter,
        )
        return await _wait.wait_for_deployment(
            self._core,
            self._pacer,
            app,
            deployment,
            deadline=self._deadline(timeout),
            schedule=schedule,
            on_poll=on_poll,
        )

    async def wait_all(
        self,
        promotions: Iterable[Promotion | tuple[uuid.UUID | str, uuid.UUID | str]],
        *,
        timeout: float | None = _wait.DEFAULT_TIMEOUT,
        concurrency: int = _wait.DEFAULT_WAIT_CONCURRENCY,
        poll_interval: float = 2.0,
        max_poll_interval: float = 15.0,
        poll_factor: float = 1.5,
        poll_jitter: float = 0.1,
        on_poll: _wait.OnPoll | None = None,
    ) -> builtins.list[Deployment]:
        """Wait for many deployments at once; their final states, in input order.

        ::

            promotions = await client.pipelines.promote(pipeline_id, source_app_id=src,
                                                        target_app_ids=targets)
            deployments = await client.deployments.wait_all(promotions)
            failed = [d for d in deployments if not d.succeeded]

        ``promotions`` holds :class:`Promotion` objects (what ``promote`` returns) or
        ``(app_id, deployment_id)`` pairs; they are all checked before anything is sent.

        Failed deployments are results, like successful ones. When some deployment cannot
        be waited for to the end (the ``timeout`` ran out, or an API error persisted after
        the client's retries), every other one is still waited for, then
        :class:`WaitAllError` is raised: its ``results`` holds every final deployment and
        every error, in input order, so one timeout never loses the others' results.

        ``timeout`` bounds the whole call (default 15 minutes); the polling options are
        those of :meth:`wait`.

        Rate: ``concurrency`` deployments (default 50) are polled at once. With the default
        schedule one deployment costs at most 8 polls in its first minute (0, 2, 5, 9.5,
        16, 26, 41, 56 s, 10 % sooner with jitter) and then at most 60 / 13.5 = 4.4 a
        minute; 50 of them at steady state make at most 222 polls a minute, well under the
        API's 400 reads a minute. Their start (50 x 8 = 400 in the first minute) and quickly
        finished deployments making room for new ones would go over, so all polls of the
        client are also paced to :attr:`max_polls_per_minute` (300); and should the API
        still report the budget spent, the client holds requests until it resets rather
        than spending them on 429s.
        """
        items = _wait.as_promotions(promotions)
        schedule = _wait.PollSchedule(
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            poll_factor=poll_factor,
            poll_jitter=poll_jitter,
        )
        concurrency = _wait.check_concurrency(concurrency)
        return await self._wait_promotions(
            items,
            deadline=self._deadline(timeout),
            schedule=schedule,
            concurrency=concurrency,
            on_poll=on_poll,
        )

    def _deadline(self, timeout: float | None) -> float | None:
        seconds = _wait.check_timeout(timeout)
        return None if seconds is None else self._core.clock() + seconds

    async def _wait_promotions(
        self,
        promotions: builtins.list[Promotion],
        *,
        deadline: float | None,
        schedule: _wait.PollSchedule,
        concurrency: int,
        on_poll: _wait.OnPoll | None,
    ) -> builtins.list[Deployment]:
        if not promotions:
            return []
        return await _wait.wait_many(
            self._core,
            self._pacer,
            promotions,
            deadline=deadline,
            schedule=schedule,
            concurrency=concurrency,
            on_poll=on_poll,
        )

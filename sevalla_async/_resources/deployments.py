"""``client.deployments``: read, cancel and wait for deployments."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from .. import _logs, _protocol, _wait
from .._ids import to_uuid
from .._models import Build, Deployment, LogEntry, Promotion
from .._options import Unpack, WaitKeywords, WaitSettings, takes
from .._record import Send
from .._replies import CancelReply, DeploymentPage
from .._response import APIResponse
from ._current import current_deployment
from ._paging import iterate_pages
from ._raw import RawView, Resource

__all__ = ["Deployments", "DeploymentsWithRawResponse"]


class Deployments(Resource):
    """Deployment operations, reached as ``client.deployments``."""

    with_raw_response: DeploymentsWithRawResponse
    """The same single-request methods, returning an :class:`APIResponse` (status,
    headers, request id, body) whose ``parse()`` gives the usual result."""

    def _raw_view(self) -> DeploymentsWithRawResponse:
        return DeploymentsWithRawResponse(self)

    @property
    def max_polls_per_minute(self) -> int | None:
        """A cap on the polls a minute all the waits of this client may start together
        (:meth:`wait`, :meth:`wait_all`, :meth:`Pipelines.promote_and_wait`), over their
        share of the read budget (``WaitOptions.budget_share``, which alone governs by
        default: ``None``). Set it when several processes share one API key."""
        return self._waiter.pacer.per_minute

    @max_polls_per_minute.setter
    def max_polls_per_minute(self, value: int | None) -> None:
        self._waiter.pacer.per_minute = value

    async def get(self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> Deployment:
        """One deployment of an application, with its current status
        (``GET /applications/{app_id}/deployments/{deployment_id}``).

        Raises :class:`NotFoundError` for an unknown app or deployment.
        """
        result, _ = await self._call(
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

        async def fetch(limit: int, offset: int) -> tuple[list[Deployment], int]:
            page: DeploymentPage = await self._core.request(
                _protocol.list_deployments_request(app, limit=limit, offset=offset),
                DeploymentPage,
            )
            return page.data, page.total

        return iterate_pages(fetch, page_size=page_size, key=lambda d: d.id)  # checks page_size

    async def current_build(self, app_id: uuid.UUID | str) -> Build | None:
        """The build the app runs: that of its latest *successful* deployment (what a
        promotion from it would deploy), or ``None`` when it never succeeded.

        ::

            build = await client.deployments.current_build(staging)
            print(build)  # the short commit sha, e.g. 'a1b2c3d'

        Reads the app's deployments newest first (GETs only: a first page of 10, then
        pages of 100), past failed, cancelled and running ones, and stops at the first
        success; it reads at most 1,000 deployments, and answers ``None`` when none of them
        succeeded. An invalid id raises ``ValueError`` before anything is sent.
        """
        found = await current_deployment(self._core, to_uuid(app_id, "app_id"))
        return None if found is None else found.build

    async def logs(
        self,
        app_id: uuid.UUID | str,
        deployment_id: uuid.UUID | str,
        *,
        severity: str | None = None,
        limit: int = _logs.DEFAULT_LIMIT,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> builtins.list[LogEntry]:
        """The build and rollout log of a deployment, oldest first
        (``GET /applications/{app_id}/deployments/{deployment_id}/logs``).

        ::

            for line in await client.deployments.logs(app_id, deployment_id, severity="ERROR"):
                print(line.timestamp, line.message)

        Args:
            severity: only entries of this level (``"ERROR"``, ``"WARN"``, ``"INFO"``,
                ``"DEBUG"``...; letters only, any case), sent as the API's ``filters``.
            limit: the most entries to return, 1-5000 (the spec's bounds; default 100).
            since, until: the time range, as timezone-aware datetimes (sent as the
                API's ``from`` and ``to``). The API's default range is the last hour
                (until now): give ``since`` for an older deployment.

        Log text is untrusted: control characters come escaped and each message is cut
        at 4,096 characters (see :class:`LogEntry`). Arguments that break the spec's
        rules raise ``ValueError`` naming the argument, before anything is sent; a reply
        that is not a list of log entries, or holds more than ``limit`` of them, raises
        :class:`APIResponseValidationError`. It is a GET: transient faults are retried.
        """
        request = _logs.logs_request(
            app_id, deployment_id, severity=severity, limit=limit, since=since, until=until
        )
        return await self._core.request(request, builtins.list[LogEntry])

    async def cancel(self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str) -> str:
        """Ask the API to cancel a waiting or running deployment; returns the API's message.

        A waiting deployment is skipped at once, a running one stopped; poll it (or
        :meth:`wait` for it) to see it end. A deployment that has already finished cannot
        be cancelled: the API answers with an error (an :class:`APIStatusError`). Like
        every POST, it is retried only when the request certainly did not reach the API,
        and every error it raises carries ``write_state`` (``rejected``, ``not_sent`` or
        ``unknown``, as :attr:`APIError.write_state` says).
        """
        reply, _ = await self._call(
            _protocol.cancel_deployment_request(app_id, deployment_id), CancelReply
        )
        return reply.message

    async def rollback(self, app_id: uuid.UUID | str) -> Deployment:
        """Roll an application back to its most recent successful deployment
        (``POST /applications/{app_id}/deployments/rollback``): the API starts a new
        deployment that reuses that deployment's build (no build step) and returns it.

        ::

            deployment = await client.deployments.rollback(app_id)
            deployment = await client.deployments.wait(app_id, deployment.id)

        An invalid id raises ``ValueError`` before anything is sent; an app without a
        successful deployment to go back to is a :class:`NotFoundError`. Like
        :meth:`Pipelines.promote`, it is a write: retried only when the request certainly
        did not reach the API (a 429, a connection never opened), so a rollback is never
        made twice. Every error it raises carries ``write_state`` (``unknown`` after a
        5xx or a connection lost once sent, with ``sent_at``: look at the app's deployments
        before rolling back again; its ``promotion_state`` is ``None``: it is not a
        promotion).
        """
        return await self._rollback(app_id)

    async def _rollback(self, app_id: uuid.UUID | str, send: Send | None = None) -> Deployment:
        """:meth:`rollback`, noting on ``send`` (the caller's write record) when it left."""
        result, _ = await self._call(
            _protocol.rollback_deployment_request(app_id), Deployment, send=send
        )
        return result

    @takes(WaitKeywords)
    async def wait(
        self,
        app_id: uuid.UUID | str,
        deployment_id: uuid.UUID | str,
        *,
        timeout: float | None = _wait.DEFAULT_TIMEOUT,
        poll_interval: float = _wait.DEFAULT_POLL_INTERVAL,
        **keywords: Unpack[WaitKeywords],
    ) -> Deployment:
        """Poll a deployment until it has finished, and return it.

        ::

            deployment = await client.deployments.wait(app_id, deployment_id, timeout=600)
            if not deployment.succeeded:
                print("deployment ended", deployment.status)

        A deployment that ends ``failed``, ``cancelled`` or ``skipped`` is *returned*, not
        raised: check :attr:`Deployment.succeeded`. While its status is ``null``,
        ``waiting`` or ``inProgress`` it is not finished.

        Polls come ``poll_interval`` seconds apart (default 1 s, the floor), or further
        apart when many waits run at once: all polls of the client together spend at most
        ``options.budget_share`` of the API's read budget (default half of 400 a minute),
        shared evenly by the waits active at the time. Each interval is spread by
        +/- ``options.poll_jitter`` (10 %), never below ``poll_interval``. Each poll is a
        GET: a transient fault is retried by the client's retry policy; an error that
        persists is raised.

        Args:
            timeout: seconds to wait at most (default 15 minutes; ``None``: no limit). When
                the next poll would come after it, :class:`APITimeoutError` is raised with
                ``last_result`` set to the last :class:`Deployment` seen (or ``None``). No
                poll's request outlives it.
            poll_interval: the shortest time between two polls of this deployment.
            **keywords: the other polling options, :class:`WaitKeywords`: ``options`` (a
                :class:`WaitOptions`), ``on_poll`` (called with every deployment a poll
                returns, e.g. to print progress), and ``max_poll_interval``,
                ``poll_factor``, ``poll_jitter``, shortcuts for the fields of ``options``
                of the same names (they win over ``options``).
        """
        settings = WaitSettings.of(
            self.wait, keywords, timeout=timeout, poll_interval=poll_interval
        )
        app = to_uuid(app_id, "app_id")
        deployment = to_uuid(deployment_id, "deployment_id")
        waiter, plan = self._waiter, settings.plan
        return await waiter.wait(
            app, deployment, plan, deadline=waiter.deadline(plan), on_poll=settings.on_poll
        )

    @takes(WaitKeywords)
    async def wait_all(
        self,
        promotions: Iterable[Promotion | tuple[uuid.UUID | str, uuid.UUID | str]],
        *,
        timeout: float | None = _wait.DEFAULT_TIMEOUT,
        concurrency: int = _wait.DEFAULT_WAIT_CONCURRENCY,
        poll_interval: float = _wait.DEFAULT_POLL_INTERVAL,
        **keywords: Unpack[WaitKeywords],
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

        ``timeout`` bounds the whole call (default 15 minutes); ``poll_interval`` and the
        other polling options (:class:`WaitKeywords`) are those of :meth:`wait`.

        Rate: ``concurrency`` deployments (default 50) are polled at once, and they share
        the client's poll budget (``options.budget_share`` of the read budget, 200 a minute
        by default) with every other wait of the client: 50 waits alone poll each
        deployment about every 15 s; 3 waits, every second. Should the API still report
        the budget spent, the client holds requests until it resets rather than spending
        them on 429s.
        """
        settings = WaitSettings.of(
            self.wait_all,
            keywords,
            timeout=timeout,
            poll_interval=poll_interval,
            concurrency=concurrency,
        )
        items = _wait.as_promotions(promotions)
        waiter, plan = self._waiter, settings.plan
        return await waiter.wait_all(
            items, plan, deadline=waiter.deadline(plan), on_poll=settings.on_poll
        )


class DeploymentsWithRawResponse(RawView["Deployments"]):
    """``client.deployments.with_raw_response``: the methods of :class:`Deployments` that
    make one request, returning :class:`APIResponse` instead of the result.

    Arguments and errors are those of the plain methods (waiting and listing make many
    requests, so they are not here).
    """

    async def get(
        self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str
    ) -> APIResponse[Deployment]:
        """:meth:`Deployments.get`, with the reply."""
        return await self._with_reply(Deployments.get, app_id, deployment_id)

    async def cancel(
        self, app_id: uuid.UUID | str, deployment_id: uuid.UUID | str
    ) -> APIResponse[str]:
        """:meth:`Deployments.cancel`, with the reply."""
        return await self._with_reply(Deployments.cancel, app_id, deployment_id)

"""Run a validated plan: promote every request (and, with ``--wait``, wait for its
deployments) with bounded concurrency, results as they come.

.. note:: MERGE SEAM. This is the CLI's own small fan-out, used until
   ``client.pipelines.promote_iter`` lands. At the merge :func:`run_plan` becomes::

       async def run_plan(client, requests, *, concurrency, on_start, wait=None, on_poll=None):
           if wait is None:
               async for o in client.pipelines.promote_iter(
                   _marking(requests, on_start), concurrency=concurrency
               ):
                   yield PlanOutcome(o.index, o.request, o.promotions, o.error)
           else:
               ...  # see "With --wait" below

   where ``_marking`` yields the requests and calls ``on_start(index)`` as each is pulled.
   The contract callers rely on stays the same: an async iterator of :class:`PlanOutcome`
   (``index`` set) in completion order, API errors inside the outcomes, ``on_start(index)``
   just before a request is sent, and closing the iterator (or cancelling its consumer)
   cancels the requests still in flight.

   With ``--wait`` (``wait`` is a :class:`WaitOptions`), one unit of work is "promote, then
   wait for that request's deployments": :func:`run_one` calls
   ``client.pipelines.promote_and_wait_request(request, **wait.kwargs(), on_poll=...)``
   instead of ``promote_request``, so ``concurrency`` bounds the entries being promoted *or
   waited for*, and ``wait.timeout`` counts per entry from its start. An entry is ok only
   when every deployment ended ``success``; a :class:`WaitAllError` keeps every result
   (``waited``) and becomes the entry's ``error``. When the fan-out helper can run such a
   per-request call (``promote_and_wait_request`` partial'ed with the options), ``--wait``
   maps onto it unchanged: ``run_one`` is the call; until then this module's workers run it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncGenerator, Callable, Sequence

import attrs

from .. import (
    Deployment,
    PromoteRequest,
    Promotion,
    SevallaClient,
    SevallaError,
    WaitAllError,
)
from ._waiting import (
    Waited,
    WaitOptions,
    promotions_of,
    waited_from_deployments,
    waited_from_error,
)

__all__ = ["OnEntryPoll", "PlanOutcome", "run_one", "run_plan"]

OnEntryPoll = Callable[[int, Deployment], object]
"""Called with the plan index and every deployment a poll of that entry returns."""


@attrs.frozen
class PlanOutcome:
    """What one entry of a plan came to.

    ``promotions`` is set once the API accepted the promotion, ``error`` when an API call
    failed (for ``--wait``, a :class:`WaitAllError` when some deployment could not be
    waited for to the end). ``waited`` holds each deployment's final (or last seen) state
    when the run waits and the promotion was accepted; ``None`` otherwise.
    """

    index: int
    request: PromoteRequest
    promotions: list[Promotion] | None = None
    error: SevallaError | None = None
    waited: list[Waited] | None = None

    @property
    def ok(self) -> bool:
        """Promoted, and (when waited for) every deployment ended with ``success``."""
        if self.error is not None or self.promotions is None:
            return False
        return self.waited is None or all(w.succeeded for w in self.waited)


async def run_one(
    client: SevallaClient,
    index: int,
    request: PromoteRequest,
    *,
    wait: WaitOptions | None = None,
    on_poll: OnEntryPoll | None = None,
) -> PlanOutcome:
    """Promote one request (and wait for its deployments with ``wait``); an API error is
    the outcome's ``error``, anything else is raised."""
    if wait is None:
        try:
            promotions = await client.pipelines.promote_request(request)
        except SevallaError as error:
            return PlanOutcome(index, request, error=error)
        return PlanOutcome(index, request, promotions)
    hook = None if on_poll is None else functools.partial(on_poll, index)
    try:
        deployments = await client.pipelines.promote_and_wait_request(
            request, on_poll=hook, **wait.kwargs()
        )
    except WaitAllError as error:
        return PlanOutcome(index, request, error.promotions, error, waited_from_error(error))
    except SevallaError as error:  # the promotion itself failed: nothing to wait for
        return PlanOutcome(index, request, error=error)
    waited = waited_from_deployments(deployments, request.target_app_ids)
    return PlanOutcome(index, request, promotions_of(waited), None, waited)


async def run_plan(
    client: SevallaClient,
    requests: Sequence[PromoteRequest],
    *,
    concurrency: int,
    on_start: Callable[[int], None],
    wait: WaitOptions | None = None,
    on_poll: OnEntryPoll | None = None,
) -> AsyncGenerator[PlanOutcome, None]:
    """Yield one :class:`PlanOutcome` per request, in the order they complete.

    At most ``concurrency`` entries are in flight (promoting, or with ``wait`` promoting
    then waiting); an API error becomes the outcome's ``error`` and never stops the
    others. Anything else (a bug) stops the run and is raised.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency: must be >= 1, got {concurrency!r}")
    results: asyncio.Queue[PlanOutcome | BaseException] = asyncio.Queue()
    pending = iter(enumerate(requests))

    async def worker() -> None:
        try:
            for index, request in pending:  # the workers share one iterator
                on_start(index)
                outcome = await run_one(client, index, request, wait=wait, on_poll=on_poll)
                results.put_nowait(outcome)
        except Exception as exc:  # not an API error: hand it to the consumer
            results.put_nowait(exc)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(requests)))]
    try:
        for _ in range(len(requests)):
            item = await results.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

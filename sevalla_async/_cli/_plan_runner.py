"""Run a validated plan: promote every request with bounded concurrency, results as they come.

.. note:: MERGE SEAM. This is the CLI's own small fan-out, used until
   ``client.pipelines.promote_iter`` lands. At the merge :func:`run_plan` becomes::

       def run_plan(client, requests, *, concurrency, on_start):
           return client.pipelines.promote_iter(
               _marking(requests, on_start), concurrency=concurrency
           )

   where ``_marking`` yields the requests and calls ``on_start(index)`` as each is pulled.
   The contract callers rely on stays the same: an async iterator of
   :class:`PromoteOutcome` (``index`` set) in completion order, API errors inside the
   outcomes, ``on_start(index)`` just before a request is sent, and closing the iterator
   (or cancelling its consumer) cancels the requests still in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence

from .. import PromoteOutcome, PromoteRequest, SevallaClient, SevallaError

__all__ = ["run_plan"]


async def run_plan(
    client: SevallaClient,
    requests: Sequence[PromoteRequest],
    *,
    concurrency: int,
    on_start: Callable[[int], None],
) -> AsyncGenerator[PromoteOutcome, None]:
    """Yield one :class:`PromoteOutcome` per request, in the order they complete.

    At most ``concurrency`` promotions are in flight; an API error becomes the outcome's
    ``error`` and never stops the others. Anything else (a bug) stops the run and is raised.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency: must be >= 1, got {concurrency!r}")
    results: asyncio.Queue[PromoteOutcome | BaseException] = asyncio.Queue()
    pending = iter(enumerate(requests))

    async def worker() -> None:
        try:
            for index, request in pending:  # the workers share one iterator
                on_start(index)
                try:
                    promotions = await client.pipelines.promote_request(request)
                except SevallaError as error:
                    results.put_nowait(PromoteOutcome(request, None, error, index))
                else:
                    results.put_nowait(PromoteOutcome(request, promotions, None, index))
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

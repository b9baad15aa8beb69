"""Fan-out: many promotions through one client, with bounded concurrency.

The engine behind :meth:`Pipelines.promote_many` and :meth:`Pipelines.promote_iter`:

- **bounded**: at most ``concurrency`` requests in flight, served by that many worker
  tasks that pull from the input one item at a time; no task is created per input;
- **lazy**: the input (any iterable or async iterable) is read only as workers free up, so
  a generator of 100,000 requests never sits in memory; ``stream`` also stops reading while
  its consumer is not keeping up (at most ``2 * concurrency`` outcomes are held), and
  starts no new request while its consumer is not waiting for one: a consumer that
  breaks out of ``async for`` without closing the stream sends nothing more (the
  requests already in flight finish);
- **isolated**: an exception of one request becomes that request's outcome; the others go
  on. An invalid entry is refused before it is scheduled (an outcome with the
  ``ValueError``). With ``fail_fast`` the first failure stops sending: every later input
  gets a ``sent=False`` outcome, without a request;
- **cancellable**: whatever ends the run early (the caller cancelled, the stream closed, the
  input or the progress hook raising) cancels the workers and waits for them, so no task
  is left behind and every connection goes back to the pool.

The per-request coroutine is a parameter (``call``), so a variant that does more per
request (promote, then wait for the deployments) plugs in without touching the scheduling.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from typing import Any

import attrs

from ._models import PromoteOutcome, PromoteRequest

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Call",
    "Fanout",
    "FanoutProgress",
    "ProgressHook",
    "as_request",
    "check_requests",
    "resolve_concurrency",
]

DEFAULT_CONCURRENCY = 32
"""Requests in flight when ``concurrency`` is not given (capped by the connection pool)."""

Call = Callable[[PromoteRequest, int], Awaitable[PromoteOutcome]]
"""The work for one valid request (and its input index): returns its outcome or raises."""

_SKIP_YIELD_EVERY = 256  # let the loop breathe while fail_fast skips a long input


@attrs.frozen(slots=True)
class FanoutProgress:
    """Where a fan-out stands, given to the ``on_progress`` hook after every outcome.

    Attributes:
        outcome: the outcome that was just produced.
        done: outcomes produced so far (``succeeded + failed + skipped``).
        succeeded: requests the API accepted (with ``wait=True``: and waited for to the
            end, whatever the deployments' status; see ``PromoteOutcome.succeeded``).
        failed: requests that ended with an error (invalid entries included).
        skipped: inputs never sent because ``fail_fast`` stopped the run.
        in_flight: requests being sent right now.
        total: how many inputs there are, when the input has a length (a list, a
            tuple...), else ``None``.
        elapsed: seconds since the fan-out started (on the client's clock).
    """

    outcome: PromoteOutcome
    done: int
    succeeded: int
    failed: int
    skipped: int
    in_flight: int
    total: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Outcomes per second so far (``0.0`` before any time has passed)."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds until the last outcome at the current rate (``None`` when the total or
        the rate is unknown)."""
        if self.total is None or self.done == 0 or self.elapsed <= 0:
            return None
        return max(self.total - self.done, 0) * self.elapsed / self.done


ProgressHook = Callable[[FanoutProgress], object]


def check_requests(requests: object) -> None:
    """Refuse what cannot be a collection of requests (``ValueError``), before any I/O."""
    if isinstance(requests, (str, bytes, Mapping, PromoteRequest)):
        raise ValueError(
            "requests: expected an iterable of PromoteRequest objects or dicts, got a single "
            f"{type(requests).__name__}"
        )
    if not isinstance(requests, (Iterable, AsyncIterable)):
        raise ValueError(
            "requests: expected an iterable or async iterable of PromoteRequest objects or "
            f"dicts, got {type(requests).__name__}"
        )


def resolve_concurrency(concurrency: int | None, pool_limit: int | None) -> int:
    """The number of requests to keep in flight: ``concurrency`` (default
    :data:`DEFAULT_CONCURRENCY`), never more than the connection pool allows."""
    if concurrency is None:
        wanted = DEFAULT_CONCURRENCY
    elif type(concurrency) is not int or concurrency < 1:
        raise ValueError(f"concurrency: must be an integer >= 1, got {concurrency!r}")
    else:
        wanted = concurrency
    return wanted if pool_limit is None else min(wanted, pool_limit)


def as_request(item: object) -> PromoteRequest:
    """One input of a fan-out as a validated :class:`PromoteRequest` (``ValueError`` if it
    cannot be one)."""
    if type(item) is PromoteRequest:
        return item
    if type(item) is dict:
        return PromoteRequest.from_dict(item)
    if isinstance(item, Mapping):
        return PromoteRequest.from_dict(dict(item))
    if isinstance(item, PromoteRequest):
        return item
    raise ValueError(
        "expected a PromoteRequest or a dict with pipeline_id, source_app_id and "
        f"target_app_ids, got {type(item).__name__}"
    )


class _Source:
    """Hands out ``(index, item)`` from a sync or async iterable, one pull at a time.

    A sync iterable is read with :meth:`next_sync` (no coroutine per item); an async one
    with :meth:`pull`, under a lock, since an async generator must not be re-entered.
    """

    __slots__ = ("_aiter", "_iter", "_lock", "exhausted", "pulled", "sync")

    def __init__(self, requests: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._iter: Iterator[Any] | None = None
        self._aiter: AsyncIterator[Any] | None = None
        self._lock: asyncio.Lock | None = None
        if isinstance(requests, AsyncIterable):
            self._aiter = aiter(requests)
            self._lock = asyncio.Lock()
        else:
            self._iter = iter(requests)
        self.sync = self._iter is not None
        self.exhausted = False
        self.pulled = 0

    def next_sync(self) -> tuple[int, Any] | None:
        """The next input of a sync iterable and its index, or ``None`` at the end."""
        if self.exhausted:
            return None
        assert self._iter is not None
        try:
            item = next(self._iter)
        except StopIteration:
            self.exhausted = True
            return None
        index = self.pulled
        self.pulled = index + 1
        return index, item

    async def pull(self) -> tuple[int, Any] | None:
        """The next input and its index, or ``None`` once the input is exhausted."""
        if self.sync:
            return self.next_sync()
        assert self._aiter is not None
        assert self._lock is not None
        async with self._lock:
            if self.exhausted:  # another worker hit the end while this one waited
                return None
            try:
                item = await anext(self._aiter)
            except StopAsyncIteration:
                self.exhausted = True
                return None
        index = self.pulled
        self.pulled = index + 1
        return index, item


_END = object()  # a worker of a stream has finished


class Fanout:
    """One fan-out run; use :meth:`collect` or :meth:`stream`, once."""

    def __init__(
        self,
        requests: Iterable[Any] | AsyncIterable[Any],
        call: Call,
        *,
        concurrency: int,
        fail_fast: bool = False,
        on_progress: ProgressHook | None = None,
        clock: Callable[[], float],
    ) -> None:
        check_requests(requests)
        if on_progress is not None and not callable(on_progress):
            raise ValueError("on_progress: expected a callable taking a FanoutProgress")
        self._requests = requests
        self._call = call
        self._concurrency = concurrency
        self._fail_fast = fail_fast
        self._on_progress = on_progress
        self._clock = clock
        self._total = len(requests) if isinstance(requests, Sized) else None
        self._stopping = False
        self._in_flight = 0
        self._succeeded = 0
        self._failed = 0
        self._skipped = 0
        self._started = 0.0
        self._used = False

    # --- one input ------------------------------------------------------------------------

    async def _run_one(self, index: int, item: object) -> PromoteOutcome:
        try:
            request = as_request(item)
        except (ValueError, TypeError) as exc:
            error = exc if isinstance(exc, ValueError) else ValueError(str(exc))
            return PromoteOutcome(item, None, error, index, sent=False)
        if self._stopping:
            return PromoteOutcome(request, None, None, index, sent=False)
        self._in_flight += 1
        try:
            return await self._call(request, index)
        except Exception as exc:  # one failure never stops the others
            return PromoteOutcome(request, None, exc, index)
        finally:
            self._in_flight -= 1

    def _record(self, outcome: PromoteOutcome) -> None:
        if outcome.error is not None:
            self._failed += 1
            if self._fail_fast:
                self._stopping = True
        elif outcome.sent:
            self._succeeded += 1
        else:
            self._skipped += 1
        hook = self._on_progress
        if hook is not None:
            hook(
                FanoutProgress(
                    outcome,
                    self._succeeded + self._failed + self._skipped,
                    self._succeeded,
                    self._failed,
                    self._skipped,
                    self._in_flight,
                    self._total,
                    self._clock() - self._started,
                )
            )

    def _start(self) -> _Source:
        if self._used:
            raise RuntimeError("a fan-out runs once")
        self._used = True
        self._started = self._clock()
        return _Source(self._requests)

    def _workers(self) -> int:
        if self._total is not None:
            return max(1, min(self._concurrency, self._total))
        return self._concurrency

    # --- promote_many ---------------------------------------------------------------------

    async def collect(self) -> list[PromoteOutcome]:
        """Run to the end; the outcomes in input order."""
        source = self._start()
        results: dict[int, PromoteOutcome] = {}

        async def work() -> None:
            skipped = 0
            sync = source.sync
            while True:
                got = source.next_sync() if sync else await source.pull()
                if got is None:
                    return
                index, item = got
                outcome = await self._run_one(index, item)
                results[index] = outcome
                self._record(outcome)
                if not outcome.sent:
                    skipped += 1
                    if skipped % _SKIP_YIELD_EVERY == 0:
                        await asyncio.sleep(0)

        workers = [asyncio.create_task(work()) for _ in range(self._workers())]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                error = task.exception()
                if error is not None:
                    raise error
        finally:
            await _cancel_all(workers)
        return [results[i] for i in range(len(results))]

    # --- promote_iter ---------------------------------------------------------------------

    async def stream(self) -> AsyncGenerator[PromoteOutcome, None]:
        """The outcomes as they complete. Reading stops while the consumer is busy."""
        source = self._start()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        credits = asyncio.Semaphore(2 * self._concurrency)
        wanted = asyncio.Event()  # set while the consumer waits for the next outcome
        failure: list[BaseException] = []

        async def work() -> None:
            sync = source.sync
            try:
                while True:
                    await credits.acquire()
                    await wanted.wait()
                    got = source.next_sync() if sync else await source.pull()
                    if got is None:
                        credits.release()
                        return
                    index, item = got
                    outcome = await self._run_one(index, item)
                    self._record(outcome)
                    queue.put_nowait(outcome)
            except Exception as exc:
                failure.append(exc)
            finally:
                queue.put_nowait(_END)

        workers = [asyncio.create_task(work()) for _ in range(self._workers())]
        live = len(workers)
        try:
            while live:
                wanted.set()
                outcome = await queue.get()
                wanted.clear()
                if outcome is _END:
                    if failure:
                        raise failure[0]
                    live -= 1
                    continue
                credits.release()
                yield outcome
        finally:
            await _cancel_all(workers)


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait until every one has finished."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:  # mark every exception as seen (they were raised or are moot)
        if not task.cancelled():
            task.exception()

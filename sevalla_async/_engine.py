"""Bounded work: many inputs through one coroutine, at most ``concurrency`` at a time.

The one scheduler behind every pool of the SDK and its CLI (the promote fan-out, ``wait_all``,
a release's rollbacks, the CLI's resumes and reads). It knows nothing of promotions:

- **bounded, lazy**: ``concurrency`` worker tasks pull the input (a sync or async
  iterable) one entry at a time as they free up; no task is created per input;
- **every entry read gets an outcome**, on every exit path:

  - the work's own outcome (``on_outcome(index, outcome)`` as each is made);
  - after ``stop(outcome)`` said so (fail fast), every later entry read gets
    ``skip(index, entry)`` without running the work;
  - the input raising stops the reading, the entries in flight finish, then
    ``input_error(message, outcomes)`` is raised (from the input's exception; the message
    says after how many entries, and what it raised), holding every outcome
    (``collect``) or none (``stream``: they were all yielded);
  - anything else that ends the run early (the work or a hook raising, the caller
    cancelled, a stream's consumer closing it) cancels the workers, waits for them, then
    gives every entry read without an outcome ``cancelled(index, entry)``, handed to
    ``on_cancelled``, before the exception (or the close) goes on;

- :meth:`Engine.collect` returns the outcomes in input order; :meth:`Engine.stream`
  yields them as they complete, holding at most ``buffer`` of them and reading nothing
  while its consumer is not waiting for the next one.
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
    Sized,
)
from typing import Any, Generic, TypeVar

__all__ = ["Engine", "InputError", "cancel_all"]

In = TypeVar("In")
Out = TypeVar("Out")

_SKIP_YIELD_EVERY = 256  # let the loop breathe while a stopped run skips a long input


class InputError(Exception):
    """The input raised after ``read`` entries; ``outcomes`` are those made before."""

    def __init__(self, message: str, outcomes: list[Any]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


class _Source(Generic[In]):
    """Hands out ``(index, entry)`` from a sync or async iterable, one pull at a time (an
    async one under a lock: an async generator must not be re-entered)."""

    __slots__ = ("_aiter", "_iter", "_lock", "exhausted", "failure", "pulled")

    def __init__(self, inputs: Iterable[In] | AsyncIterable[In]) -> None:
        self._iter: Iterator[In] | None = None
        self._aiter: AsyncIterator[In] | None = None
        if isinstance(inputs, AsyncIterable):
            self._aiter = aiter(inputs)
        else:
            self._iter = iter(inputs)
        self._lock = asyncio.Lock()  # only an async input takes it
        self.exhausted = False
        self.pulled = 0
        self.failure: Exception | None = None

    async def pull(self) -> tuple[int, In] | None:
        """The next entry and its index, or ``None`` once the input is exhausted."""
        try:
            if self._iter is not None:
                if self.exhausted:
                    return None
                item = next(self._iter)
            else:
                assert self._aiter is not None
                async with self._lock:
                    if self.exhausted:  # maybe hit by another worker while this one waited
                        return None
                    item = await anext(self._aiter)
        except Exception as exc:  # StopIteration / StopAsyncIteration included
            # The input ended or raised: stop reading; keep the first error raised.
            self.exhausted = True
            if not isinstance(exc, (StopIteration, StopAsyncIteration)) and self.failure is None:
                self.failure = exc
            return None
        index = self.pulled
        self.pulled = index + 1
        return index, item


_END = object()  # a worker of a stream has finished


class Engine(Generic[In, Out]):
    """One run of ``work`` over ``inputs``; use :meth:`collect` or :meth:`stream`, once."""

    def __init__(
        self,
        inputs: Iterable[In] | AsyncIterable[In],
        work: Callable[[int, In], Awaitable[Out]],
        *,
        concurrency: int,
        on_outcome: Callable[[int, Out], object] | None = None,
        cancelled: Callable[[int, In], Out] | None = None,
        on_cancelled: Callable[[int, Out], object] | None = None,
        stop: Callable[[Out], bool] | None = None,
        skip: Callable[[int, In], Out] | None = None,
        input_error: Callable[[str, list[Out]], BaseException] = InputError,
    ) -> None:
        self._inputs = inputs
        self._work = work
        self._concurrency = concurrency
        self._on_outcome = on_outcome
        self._cancelled = cancelled
        self._on_cancelled = on_cancelled
        self._stop = stop
        self._skip = skip
        self._input_error = input_error
        self.total: int | None = len(inputs) if isinstance(inputs, Sized) else None
        self.stopping = False
        self.pending: dict[int, In] = {}  # read, no outcome yet
        self._used = False

    # --- one entry ------------------------------------------------------------------------

    async def _next(self, source: _Source[In], skipped: list[int]) -> tuple[int, Out] | None:
        """Read one entry and make its outcome (``None``: the input is exhausted)."""
        if self.stopping and self._skip is None:  # nothing to skip with: stop reading
            return None
        got = await source.pull()
        if got is None:
            return None
        index, item = got
        self.pending[index] = item
        if self.stopping and self._skip is not None:
            outcome = self._skip(index, item)
            skipped[0] += 1
            if skipped[0] % _SKIP_YIELD_EVERY == 0:
                await asyncio.sleep(0)
        else:
            outcome = await self._work(index, item)
        del self.pending[index]
        if self._stop is not None and not self.stopping and self._stop(outcome):
            self.stopping = True
        if self._on_outcome is not None:
            self._on_outcome(index, outcome)
        return index, outcome

    def _abandon(self) -> None:
        """Every entry read without an outcome gets its ``cancelled`` one."""
        pending, self.pending = self.pending, {}
        if self._cancelled is None:
            return
        for index in sorted(pending):
            outcome = self._cancelled(index, pending[index])
            if self._on_cancelled is not None:
                self._on_cancelled(index, outcome)

    def _begin(self) -> _Source[In]:
        if self._used:
            raise RuntimeError("an engine runs once")
        self._used = True
        return _Source(self._inputs)

    def _workers(self) -> int:
        if self.total is not None:
            return max(1, min(self._concurrency, self.total))
        return self._concurrency

    async def _finish(self, workers: list[asyncio.Task[None]]) -> None:
        try:
            await cancel_all(workers)
        finally:
            self._abandon()

    def _raise_input_failure(self, source: _Source[In], outcomes: list[Out]) -> None:
        failure = source.failure
        if failure is not None:
            read = source.pulled
            message = (
                f"the input raised after {read} {'entry' if read == 1 else 'entries'}: "
                f"{type(failure).__name__}: {failure}"
            )
            raise self._input_error(message, outcomes) from failure

    # --- modes ----------------------------------------------------------------------------

    async def collect(self) -> list[Out]:
        """Run to the end; the outcomes in input order."""
        source = self._begin()
        results: dict[int, Out] = {}

        async def worker() -> None:
            skipped = [0]
            while (got := await self._next(source, skipped)) is not None:
                results[got[0]] = got[1]

        workers = [asyncio.create_task(worker()) for _ in range(self._workers())]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                error = task.exception()
                if error is not None:
                    raise error
        finally:
            await self._finish(workers)
        ordered = [results[i] for i in range(len(results))]
        self._raise_input_failure(source, ordered)
        return ordered

    async def stream(self, buffer: int | None = None) -> AsyncGenerator[Out, None]:
        """The outcomes as they complete; at most ``buffer`` (default twice the
        concurrency) are held, and nothing is read while the consumer is not waiting."""
        source = self._begin()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        credits = asyncio.Semaphore(buffer or 2 * self._concurrency)
        wanted = asyncio.Event()  # set while the consumer waits for the next outcome
        failure: list[BaseException] = []

        async def worker() -> None:
            skipped = [0]
            try:
                while True:
                    await credits.acquire()
                    await wanted.wait()
                    got = await self._next(source, skipped)
                    if got is None:
                        credits.release()
                        return
                    queue.put_nowait(got[1])
            except Exception as exc:
                failure.append(exc)
            finally:
                queue.put_nowait(_END)

        workers = [asyncio.create_task(worker()) for _ in range(self._workers())]
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
            self._raise_input_failure(source, [])
        finally:
            await self._finish(workers)


async def cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait until every one has finished."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in tasks:  # mark every exception as seen (they were raised or are moot)
        if not task.cancelled():
            task.exception()

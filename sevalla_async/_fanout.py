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
  ``ValueError``); so is an entry with a target an earlier one already promotes (same
  pipeline and source: a promotion is not idempotent, that target would be deployed
  twice), with ``... is already a target of entry N``. With ``fail_fast`` the first
  failure stops sending: every later input gets a ``sent=False`` outcome, without a
  request;
- **cancellable**: whatever ends the run early (the caller cancelled, the stream closed, the
  progress hook raising) cancels the workers and waits for them, so no task is left behind
  and every connection goes back to the pool;
- **accounted for**: every entry read gets exactly one outcome, on every exit path, in a
  :class:`FanoutLedger`. The input raising stops the reading, lets the requests in flight
  finish, then raises :class:`FanoutError` with every outcome (``stream`` without a
  ledger keeps no outcome it has yielded, so its error holds none: they were all yielded
  before it is raised). A cancellation propagates
  unchanged; the ledger then holds an outcome for every entry read (``unknown`` with its
  ``sent_at`` when its request had left, ``not_sent`` when it had not).

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
from typing import Any, Protocol

import attrs

from ._errors import APIError
from ._models import Deployment, PromoteRequest, Promotion
from ._outcomes import PromotionState
from ._promote_outcome import PromoteOutcome, state_of
from ._record import WriteRecord, combined_state
from ._repeats import Repeat, RepeatGuard, repeat_error
from ._result_errors import FanoutError

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Call",
    "Fanout",
    "FanoutLedger",
    "FanoutProgress",
    "ProgressHook",
    "Repeat",
    "RepeatGuard",
    "as_request",
    "check_requests",
    "repeat_error",
    "resolve_concurrency",
]

DEFAULT_CONCURRENCY = 32
"""Requests in flight when ``concurrency`` is not given (capped by the connection pool)."""

Call = Callable[[PromoteRequest, int, WriteRecord], Awaitable[PromoteOutcome]]
"""The work for one valid request (its input index, and the write record the fan-out
keeps for it and passes down): returns its outcome or raises."""

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


class ProgressHook(Protocol):
    """The ``on_progress`` hook of a fan-out: called with a :class:`FanoutProgress` after
    every outcome; its return value is ignored (an exception it raises stops the fan-out).
    Any callable taking one :class:`FanoutProgress` fits."""

    def __call__(self, progress: FanoutProgress, /) -> object: ...


class FanoutLedger:
    """Every entry a fan-out read, and its outcome once it has one.

    Pass one as ``ledger=`` to :meth:`Pipelines.promote_many` / :meth:`Pipelines.promote_iter`
    to keep the record whatever ends the run (a cancellation, Ctrl-C, ``aclose()``)::

        ledger = FanoutLedger()
        try:
            await client.pipelines.promote_many(plan, ledger=ledger)
        finally:
            for outcome in ledger.outcomes:   # one per entry read, input order
                print(outcome.index, outcome.state, outcome.sent_at)

    ``on_outcome`` (optional) is called with each outcome as it is recorded (e.g. to append
    it to a journal); keep it quick, it runs in the event loop.
    """

    def __init__(self, on_outcome: Callable[[PromoteOutcome], object] | None = None) -> None:
        if on_outcome is not None and not callable(on_outcome):
            raise ValueError("on_outcome: expected a callable taking a PromoteOutcome")
        self._outcomes: dict[int, PromoteOutcome] = {}
        self._read = 0
        self._on_outcome = on_outcome

    @property
    def outcomes(self) -> list[PromoteOutcome]:
        """The outcomes recorded so far, in input order."""
        return [self._outcomes[i] for i in sorted(self._outcomes)]

    @property
    def read(self) -> int:
        """How many entries the fan-out has read from its input."""
        return self._read

    @property
    def pending(self) -> int:
        """Entries read that have no outcome yet (in flight)."""
        return self._read - len(self._outcomes)

    def note_read(self, index: int) -> None:
        """An entry was read (its outcome must follow)."""
        self._read = max(self._read, index + 1)

    def record(self, outcome: PromoteOutcome) -> None:
        """Record ``outcome`` (once per entry: a second one for the same index is ignored)."""
        if outcome.index in self._outcomes:
            return
        self._outcomes[outcome.index] = outcome
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    def has(self, index: int) -> bool:
        """True once the entry at input position ``index`` has its outcome."""
        return index in self._outcomes

    def __len__(self) -> int:
        return len(self._outcomes)

    def __repr__(self) -> str:
        return f"<FanoutLedger read={self._read} outcomes={len(self._outcomes)}>"


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


def done_outcome(
    request: PromoteRequest,
    index: int,
    record: WriteRecord,
    promotions: list[Promotion],
    error: BaseException | None = None,
    deployments: list[Deployment] | None = None,
) -> PromoteOutcome:
    """The outcome of a request whose promotions came back (found or made); with
    ``wait=True``, its ``deployments`` and the wait's ``error``."""
    waited = deployments is not None or error is not None
    if record.per_target:  # reconciled: the targets' sends differ
        targets = record.outcomes()
        return PromoteOutcome(
            request,
            promotions,
            error,
            index,
            True,
            deployments if waited else None,
            state=PromotionState.PROMOTED,
            sent_at=targets[0].sent_at,
            per_target=targets,
        )
    if waited:
        return PromoteOutcome(
            request,
            promotions,
            error,
            index,
            True,
            deployments,
            state=PromotionState.PROMOTED,
            sent_at=record.send.sent_at,
        )
    return PromoteOutcome(request, promotions, None, index, sent_at=record.send.sent_at)


def failed_outcome(
    request: PromoteRequest, index: int, record: WriteRecord, error: Exception | None
) -> PromoteOutcome:
    """The outcome of a request that raised ``error`` (``None``: cancelled in flight), from
    its write record: per target when a promotion was found before the failure, so that
    nothing found is lost."""
    if record.per_target:
        targets = record.outcomes()
        made = [
            Promotion(t.target_app_id, t.deployment_id)
            for t in targets
            if t.deployment_id is not None
        ]
        state = combined_state(targets)
        sent_at = next((t.sent_at for t in targets if t.sent_at is not None), None)
        return PromoteOutcome(
            request,
            made or None,
            error,
            index,
            True,
            state=state,
            sent_at=sent_at,
            per_target=targets,
        )
    sent_at = record.send.sent_at
    if isinstance(error, (APIError, ValueError)):
        state = state_of(error)
    else:  # cancelled, or not the API's answer (e.g. the client was closed): did it leave?
        state = PromotionState.UNKNOWN if sent_at else PromotionState.NOT_SENT
    sent = state is not PromotionState.NOT_SENT
    return PromoteOutcome(request, None, error, index, sent, state=state, sent_at=sent_at)


class _Source:
    """Hands out ``(index, item)`` from a sync or async iterable, one pull at a time.

    Workers call :meth:`pull` for either kind; an async iterable is read under a lock,
    since an async generator must not be re-entered.
    """

    __slots__ = ("_aiter", "_iter", "_lock", "exhausted", "failure", "pulled", "sync")

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
        self.failure: Exception | None = None

    def _ended(self, exc: Exception) -> None:
        """The input ended (``StopIteration``, ``StopAsyncIteration``) or raised: stop
        reading (the entries in flight still finish); keep the first error raised."""
        self.exhausted = True
        if not isinstance(exc, (StopIteration, StopAsyncIteration)) and self.failure is None:
            self.failure = exc

    def next_sync(self) -> tuple[int, Any] | None:
        """The next input of a sync iterable and its index, or ``None`` at the end."""
        if self.exhausted:
            return None
        assert self._iter is not None
        try:
            item = next(self._iter)
        except Exception as exc:  # StopIteration included
            self._ended(exc)
            return None
        return self._numbered(item)

    def _numbered(self, item: Any) -> tuple[int, Any]:
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
            except Exception as exc:  # StopAsyncIteration included
                self._ended(exc)
                return None
        return self._numbered(item)


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
        ledger: FanoutLedger | None = None,
    ) -> None:
        check_requests(requests)  # the options were checked by the caller (FanoutSettings)
        # Without a ledger nothing keeps an outcome once it is handed on (bounded memory
        # for promote_iter); entries read and not yet settled are in _requests_read.
        self.ledger: FanoutLedger | None = ledger
        self._records: dict[int, WriteRecord] = {}  # in flight
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
        self._requests_read: dict[int, Any] = {}  # read, no outcome yet
        self._repeats = RepeatGuard()

    # --- one input ------------------------------------------------------------------------

    async def _run_one(self, index: int, item: object) -> PromoteOutcome:
        if self.ledger is not None:
            self.ledger.note_read(index)
        self._requests_read[index] = item
        try:
            request = as_request(item)
        except (ValueError, TypeError) as exc:
            error = exc if isinstance(exc, ValueError) else ValueError(str(exc))
            return PromoteOutcome(item, None, error, index, sent=False)
        self._requests_read[index] = request
        first = self._repeats.earlier(request, index)
        if first is not None:
            return PromoteOutcome(request, None, repeat_error(first), index, sent=False)
        if self._stopping:
            return PromoteOutcome(request, None, None, index, sent=False)
        self._in_flight += 1
        record = self._records[index] = WriteRecord(request.target_app_ids)
        try:
            return await self._call(request, index, record)
        except asyncio.CancelledError:
            self._account_for_the_rest()  # this entry (and any other read) in the ledger
            raise
        except Exception as exc:  # one failure never stops the others
            return failed_outcome(request, index, record, exc)
        finally:
            self._in_flight -= 1
            del self._records[index]

    def _account_for_the_rest(self) -> None:
        """After a cancellation: an outcome in the ledger for every entry read that has
        none (in flight: ``unknown`` with its ``sent_at`` if its request had left, else
        ``not_sent``)."""
        if self.ledger is None:
            self._requests_read.clear()
            return
        for index, item in self._requests_read.items():
            if self.ledger.has(index):
                continue
            record = self._records.get(index)
            if record is None or not isinstance(item, PromoteRequest):
                outcome = PromoteOutcome(item, None, None, index, False)
            else:
                outcome = failed_outcome(item, index, record, None)
            self.ledger.record(outcome)
        self._requests_read.clear()

    def _record(self, outcome: PromoteOutcome) -> None:
        if self.ledger is not None:
            self.ledger.record(outcome)
        self._requests_read.pop(outcome.index, None)
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
            while True:
                got = await source.pull()
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
            self._account_for_the_rest()
        ordered = [results[i] for i in range(len(results))]
        self._raise_input_failure(source, ordered)
        return ordered

    def _raise_input_failure(self, source: _Source, outcomes: list[PromoteOutcome]) -> None:
        """Raise :class:`FanoutError` with ``outcomes`` if the input raised."""
        if source.failure is not None:
            raise FanoutError(
                f"the input raised after {source.pulled} "
                f"{'entry' if source.pulled == 1 else 'entries'}: "
                f"{type(source.failure).__name__}: {source.failure}",
                outcomes,
            ) from source.failure

    # --- promote_iter ---------------------------------------------------------------------

    async def stream(self) -> AsyncGenerator[PromoteOutcome, None]:
        """The outcomes as they complete. Reading stops while the consumer is busy."""
        source = self._start()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        credits = asyncio.Semaphore(2 * self._concurrency)
        wanted = asyncio.Event()  # set while the consumer waits for the next outcome
        failure: list[BaseException] = []

        async def work() -> None:
            try:
                while True:
                    await credits.acquire()
                    await wanted.wait()
                    got = await source.pull()
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
            # Every outcome has been yielded by now: without a ledger none is kept (memory
            # stays bounded), so the error holds the ledger's outcomes or none.
            kept = self.ledger.outcomes if self.ledger is not None else []
            self._raise_input_failure(source, kept)
        finally:
            await _cancel_all(workers)
            self._account_for_the_rest()


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

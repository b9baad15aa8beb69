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

The scheduling, the laziness and the cancellation rules are those of the one bounded-work
:class:`~sevalla_async._engine.Engine`; this module adds what is particular to promotions
(the checks of an entry, the ledger, the progress). The per-request coroutine is a
parameter (``call``), so a variant that does more per request (promote, then wait for the
deployments) plugs in without touching the scheduling.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from typing import Any, Protocol

import attrs

from ._engine import Engine
from ._fanout_outcomes import done_outcome, failed_outcome, unsent_outcome
from ._models import PromoteRequest
from ._promote_outcome import PromoteOutcome
from ._record import WriteRecord
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
    "done_outcome",
    "failed_outcome",
    "repeat_error",
    "resolve_concurrency",
]

DEFAULT_CONCURRENCY = 32
"""Requests in flight when ``concurrency`` is not given (capped by the connection pool)."""

Call = Callable[[PromoteRequest, int, WriteRecord], Awaitable[PromoteOutcome]]
"""The work for one valid request (its input index, and the write record the fan-out
keeps for it and passes down): returns its outcome or raises."""


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
        concurrency = DEFAULT_CONCURRENCY
    elif type(concurrency) is not int or concurrency < 1:
        raise ValueError(f"concurrency: must be an integer >= 1, got {concurrency!r}")
    return concurrency if pool_limit is None else min(concurrency, pool_limit)


def as_request(item: object) -> PromoteRequest:
    """One input of a fan-out as a validated :class:`PromoteRequest` (``ValueError`` if it
    cannot be one)."""
    if isinstance(item, PromoteRequest):
        return item
    if isinstance(item, Mapping):  # any other mapping is read as a plain dict copy of it
        return PromoteRequest.from_dict(item if type(item) is dict else dict(item))
    raise ValueError(
        "expected a PromoteRequest or a dict with pipeline_id, source_app_id and "
        f"target_app_ids, got {type(item).__name__}"
    )


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
        # for promote_iter).
        self.ledger: FanoutLedger | None = ledger
        self._records: dict[int, tuple[PromoteRequest, WriteRecord]] = {}  # sent, not settled
        self._call = call
        self._on_progress = on_progress
        self._clock = clock
        self._in_flight = 0
        self._succeeded = 0
        self._failed = 0
        self._skipped = 0
        self._started = 0.0
        self._repeats = RepeatGuard()
        self._engine: Engine[Any, PromoteOutcome] = Engine(
            requests,
            self._run_one,
            concurrency=concurrency,
            on_outcome=self._record,
            cancelled=self._cancelled,
            on_cancelled=None if ledger is None else lambda _, outcome: ledger.record(outcome),
            stop=_failed if fail_fast else None,
            skip=self._skip,
            input_error=self._input_error,
        )

    # --- one input ------------------------------------------------------------------------

    def _checked(self, index: int, item: object) -> PromoteRequest | PromoteOutcome:
        """The entry as a request, or its outcome when it cannot be sent (invalid, or a
        target an earlier entry already promotes)."""
        if self.ledger is not None:
            self.ledger.note_read(index)
        try:
            request = as_request(item)
        except (ValueError, TypeError) as exc:
            error = exc if isinstance(exc, ValueError) else ValueError(str(exc))
            return unsent_outcome(item, index, error)
        first = self._repeats.earlier(request, index)
        if first is not None:
            return unsent_outcome(request, index, repeat_error(first))
        return request

    async def _run_one(self, index: int, item: object) -> PromoteOutcome:
        request = self._checked(index, item)
        if not isinstance(request, PromoteRequest):
            return request
        record = WriteRecord(request.target_app_ids)
        self._records[index] = (request, record)
        self._in_flight += 1
        try:
            outcome = await self._call(request, index, record)
        except Exception as exc:  # one failure never stops the others
            outcome = failed_outcome(request, index, record, exc)
        finally:
            self._in_flight -= 1
        del self._records[index]  # not reached when cancelled: kept for the cancelled outcome
        return outcome

    def _skip(self, index: int, item: object) -> PromoteOutcome:
        """An entry read after ``fail_fast`` stopped the run: not sent."""
        request = self._checked(index, item)
        return request if isinstance(request, PromoteOutcome) else unsent_outcome(request, index)

    def _cancelled(self, index: int, item: object) -> PromoteOutcome:
        """An entry read that the run's end left without an outcome: ``unknown`` with its
        ``sent_at`` if its request had left, else ``not_sent``."""
        sent = self._records.pop(index, None)
        if sent is None:
            return unsent_outcome(item, index)
        return failed_outcome(sent[0], index, sent[1], None)

    def _record(self, index: int, outcome: PromoteOutcome) -> None:
        if self.ledger is not None:
            self.ledger.record(outcome)
        if outcome.error is not None:
            self._failed += 1
        elif outcome.sent:
            self._succeeded += 1
        else:
            self._skipped += 1
        if self._on_progress is not None:
            self._on_progress(
                FanoutProgress(
                    outcome,
                    self._succeeded + self._failed + self._skipped,
                    self._succeeded,
                    self._failed,
                    self._skipped,
                    self._in_flight,
                    self._engine.total,
                    self._clock() - self._started,
                )
            )

    def _input_error(self, message: str, outcomes: list[PromoteOutcome]) -> FanoutError:
        """The input raised: :class:`FanoutError` with every outcome (a stream keeps
        none it has yielded: the ledger's, if any)."""
        if not outcomes and self.ledger is not None:
            outcomes = self.ledger.outcomes
        return FanoutError(message, outcomes)

    # --- promote_many / promote_iter ------------------------------------------------------

    async def collect(self) -> list[PromoteOutcome]:
        """Run to the end; the outcomes in input order."""
        self._started = self._clock()
        return await self._engine.collect()

    def stream(self) -> AsyncGenerator[PromoteOutcome, None]:
        """The outcomes as they complete. Reading stops while the consumer is busy."""
        self._started = self._clock()
        return self._engine.stream()


def _failed(outcome: PromoteOutcome) -> bool:
    return outcome.error is not None

"""promote_many / promote_iter: order, bounds, failures, laziness, cancellation, progress."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from sevalla_async import (
    ClientRateLimitError,
    FanoutError,
    FanoutLedger,
    FanoutProgress,
    InternalServerError,
    NotFoundError,
    PromoteOutcome,
    PromoteRequest,
    PromotionState,
    SevallaClient,
)
from sevalla_async._fanout import DEFAULT_CONCURRENCY, Fanout, resolve_concurrency
from sevalla_async._record import WriteRecord
from sevalla_async.testing import FakeClock, FakeSevalla, Fault, RateLimit

# --- helpers ----------------------------------------------------------------------------


def _path(request: PromoteRequest) -> str:
    return f"/pipelines/{request.pipeline_id}/promote"


def _slow_all(fake: FakeSevalla, count: int, seconds: float = 0.01) -> None:
    """Make the next ``count`` promotes linger on the server, so that concurrent requests
    overlap there and ``fake.max_in_flight`` shows how many were in flight."""
    fake.inject(Fault.slow(seconds), times=count, method="POST")


def _fanout_tasks() -> list[asyncio.Task[Any]]:
    """Tasks started by the bounded-work engine (the fan-out's workers) still alive."""
    return [
        t
        for t in asyncio.all_tasks()
        if t.get_coro().__qualname__.startswith("Engine.")  # type: ignore[union-attr]
    ]


def _sent_pipelines(fake: FakeSevalla) -> set[str]:
    return {r.path.split("/")[3] for r in fake.requests_to("POST", "/promote")}


async def _wait_until(condition: Any) -> None:
    """Yield to the loop until ``condition()`` holds (real I/O progresses meanwhile)."""
    for _ in range(100_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


# --- results and order ------------------------------------------------------------------


async def test_promote_many_returns_one_outcome_per_input_in_input_order(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(12, targets=3)
    # The first request answers last: completion order differs from input order.
    fake.inject(Fault.slow(0.05), path=_path(requests[0]))

    outcomes = await client.pipelines.promote_many(requests, concurrency=4)

    assert [o.index for o in outcomes] == list(range(12))
    assert [o.request for o in outcomes] == requests
    for outcome, request in zip(outcomes, requests, strict=True):
        assert outcome.ok
        assert outcome.sent
        assert outcome.error is None
        assert outcome.promotions is not None
        assert [p.target_app_id for p in outcome.promotions] == list(request.target_app_ids)
        for p in outcome.promotions:
            assert fake.deployment(p.deployment_id).app_id == p.target_app_id
    assert len(fake.requests_to("POST", "/promote")) == 12


async def test_promote_iter_yields_in_completion_order(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(8, targets=1)
    # The first request goes alone (it learns the rate-limit budget); then four at a time.
    fake.inject(Fault.slow(0.05), path=_path(requests[1]))

    seen = [o async for o in client.pipelines.promote_iter(requests, concurrency=4)]

    assert sorted(o.index for o in seen) == list(range(8))
    assert seen[-1].index == 1  # the slow one came last
    assert all(o.ok for o in seen)
    assert all(o.request == requests[o.index] for o in seen)


async def test_dict_inputs_are_validated_into_requests(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    raw = {
        "pipeline_id": str(request.pipeline_id),
        "source_app_id": str(request.source_app_id),
        "target_app_ids": [str(t) for t in request.target_app_ids],
    }
    (outcome,) = await client.pipelines.promote_many([raw])
    assert outcome.ok
    assert outcome.request == request
    assert isinstance(outcome.request, PromoteRequest)


async def test_empty_input_gives_no_outcomes(fake: FakeSevalla, client: SevallaClient) -> None:
    assert await client.pipelines.promote_many([]) == []
    assert [o async for o in client.pipelines.promote_iter(iter(()))] == []
    assert fake.requests == []


# --- the concurrency bound --------------------------------------------------------------


async def test_concurrency_bounds_requests_in_flight(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(20, targets=1)
    _slow_all(fake, 20)
    outcomes = await client.pipelines.promote_many(requests, concurrency=4)
    assert all(o.ok for o in outcomes)
    assert fake.max_in_flight == 4


async def test_promote_iter_respects_the_bound_too(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(15, targets=1)
    _slow_all(fake, 15)
    outcomes = [o async for o in client.pipelines.promote_iter(requests, concurrency=3)]
    assert len(outcomes) == 15
    assert fake.max_in_flight == 3


@pytest.mark.sevalla_loopback
async def test_concurrency_never_exceeds_the_connection_pool(
    fake: FakeSevalla, make_client: Any
) -> None:
    client = make_client(connection_limit=2)
    requests = fake.promote_requests(10, targets=1)
    _slow_all(fake, 10)
    outcomes = await client.pipelines.promote_many(requests, concurrency=50)
    assert all(o.ok for o in outcomes)
    assert fake.max_in_flight == 2


@pytest.mark.sevalla_loopback
async def test_borrowed_session_pool_limit_is_honoured(fake: FakeSevalla, clock: FakeClock) -> None:
    requests = fake.promote_requests(9, targets=1)
    _slow_all(fake, 9)
    connector = aiohttp.TCPConnector(limit=10, limit_per_host=3)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = SevallaClient(
            fake.api_key, base_url=fake.base_url, session=session, sleep=clock.sleep, clock=clock
        )
        outcomes = await client.pipelines.promote_many(requests)
        await client.aclose()
        assert not session.closed
    assert all(o.ok for o in outcomes)
    assert fake.max_in_flight == 3


def test_default_concurrency_is_documented_and_capped_by_the_pool() -> None:
    assert resolve_concurrency(None, None) == DEFAULT_CONCURRENCY == 32
    assert resolve_concurrency(None, 10) == 10
    assert resolve_concurrency(64, 100) == 64
    assert resolve_concurrency(500, 100) == 100


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8", True])
async def test_bad_concurrency_is_refused_before_any_io(
    fake: FakeSevalla, client: SevallaClient, bad: Any
) -> None:
    requests = fake.promote_requests(1)
    with pytest.raises(ValueError, match="concurrency"):
        await client.pipelines.promote_many(requests, concurrency=bad)
    with pytest.raises(ValueError, match="concurrency"):
        client.pipelines.promote_iter(requests, concurrency=bad)
    assert fake.requests == []


# --- failures ---------------------------------------------------------------------------


async def test_one_failure_never_cancels_the_rest(fake: FakeSevalla, client: SevallaClient) -> None:
    requests = fake.promote_requests(10, targets=2)
    fake.inject(Fault.error(500), path=_path(requests[2]))
    fake.inject(Fault.disconnect("after"), path=_path(requests[5]))
    missing = PromoteRequest(uuid.uuid4(), requests[7].source_app_id, requests[7].target_app_ids)
    requests[7] = missing

    outcomes = await client.pipelines.promote_many(requests, concurrency=3)

    failed = {o.index: o for o in outcomes if not o.ok}
    assert set(failed) == {2, 5, 7}
    assert isinstance(failed[2].error, InternalServerError)
    assert failed[2].error.status_code == 500
    assert failed[2].error.attempts == 1  # a POST answered 5xx is never retried
    assert type(failed[5].error).__name__ == "APIConnectionError"
    assert isinstance(failed[7].error, NotFoundError)
    for o in failed.values():
        assert o.sent
        assert o.promotions is None
        assert o.request is requests[o.index]
    assert all(o.ok for o in outcomes if o.index not in failed)
    assert len(fake.requests_to("POST", "/promote")) == 10  # every request was sent


async def test_fail_fast_stops_sending_and_names_what_was_never_sent(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(10, targets=1)
    fake.inject(Fault.error(409, "Conflict"), path=_path(requests[3]))

    outcomes = await client.pipelines.promote_many(requests, concurrency=1, fail_fast=True)

    assert [o.index for o in outcomes] == list(range(10))
    assert [o.ok for o in outcomes[:3]] == [True] * 3
    assert outcomes[3].error is not None
    assert outcomes[3].sent
    never_sent = [o for o in outcomes if not o.sent]
    assert [o.index for o in never_sent] == list(range(4, 10))
    for o in never_sent:
        assert o.skipped
        assert not o.ok
        assert o.error is None
        assert o.promotions is None
        assert o.request == requests[o.index]
    assert _sent_pipelines(fake) == {str(r.pipeline_id) for r in requests[:4]}


async def test_fail_fast_lets_requests_in_flight_finish(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(20, targets=1)
    fake.inject(Fault.error(500), path=_path(requests[0]))
    _slow_all(fake, 20, 0.005)

    outcomes = [
        o async for o in client.pipelines.promote_iter(requests, concurrency=4, fail_fast=True)
    ]

    assert sorted(o.index for o in outcomes) == list(range(20))
    sent = [o for o in outcomes if o.sent]
    skipped = [o for o in outcomes if o.skipped]
    assert len(sent) + len(skipped) == 20
    assert skipped  # the run did stop early
    assert sum(1 for o in sent if not o.ok) == 1  # only the faulted one failed
    # Exactly the sent ones reached the API; the skipped ones never did.
    assert _sent_pipelines(fake) == {str(o.request.pipeline_id) for o in sent}


async def test_without_fail_fast_everything_is_sent(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(5, targets=1)
    fake.inject(Fault.error(500), path=_path(requests[0]))
    outcomes = await client.pipelines.promote_many(requests, concurrency=1)
    assert [o.ok for o in outcomes] == [False, True, True, True, True]
    assert not any(o.skipped for o in outcomes)


# --- invalid entries --------------------------------------------------------------------


async def test_invalid_entries_become_outcomes_not_crashes(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    good = fake.promote_requests(2, targets=1)
    bad_uuid = {
        "pipeline_id": "not-a-uuid",
        "source_app_id": str(good[0].source_app_id),
        "target_app_ids": [str(good[0].target_app_ids[0])],
    }
    missing = {"pipeline_id": str(good[0].pipeline_id)}
    no_targets = {
        "pipeline_id": str(good[0].pipeline_id),
        "source_app_id": str(good[0].source_app_id),
        "target_app_ids": [],
    }
    inputs: list[Any] = [good[0], bad_uuid, missing, "oops", None, no_targets, good[1]]

    outcomes = await client.pipelines.promote_many(inputs)

    assert [o.ok for o in outcomes] == [True, False, False, False, False, False, True]
    messages = {}
    for o in outcomes[1:6]:
        assert isinstance(o.error, ValueError)
        assert not o.sent
        assert not o.skipped
        assert o.request is inputs[o.index]  # the raw input, to report it
        messages[o.index] = str(o.error)
    assert messages[1].startswith("pipeline_id:")
    assert messages[2] == "source_app_id: required field is missing"
    assert "PromoteRequest" in messages[3]
    assert "NoneType" in messages[4]
    assert messages[5].startswith("target_app_ids:")
    assert _sent_pipelines(fake) == {str(good[0].pipeline_id), str(good[1].pipeline_id)}


async def test_an_invalid_entry_trips_fail_fast(fake: FakeSevalla, client: SevallaClient) -> None:
    good = fake.promote_requests(3, targets=1)
    outcomes = await client.pipelines.promote_many(
        [good[0], {"nope": 1}, good[1], good[2]], concurrency=1, fail_fast=True
    )
    assert outcomes[0].ok
    assert isinstance(outcomes[1].error, ValueError)
    assert [o.skipped for o in outcomes[2:]] == [True, True]
    assert len(fake.requests) == 1


@pytest.mark.parametrize("requests", [{"pipeline_id": "x"}, "abc", b"abc", 5, None], ids=type)
async def test_a_non_collection_is_refused_before_any_io(
    fake: FakeSevalla, client: SevallaClient, requests: Any
) -> None:
    with pytest.raises(ValueError, match="requests:"):
        await client.pipelines.promote_many(requests)
    with pytest.raises(ValueError, match="requests:"):
        client.pipelines.promote_iter(requests)
    assert fake.requests == []


# --- lazy input ---------------------------------------------------------------------------


async def test_promote_iter_reads_a_huge_generator_lazily(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(20, targets=1)  # more than is ever read: no repeat
    pulled = 0

    def huge() -> Iterator[PromoteRequest]:
        nonlocal pulled
        for i in range(10**9):
            pulled += 1
            yield requests[i % 20]

    taken = []
    async with contextlib.aclosing(
        client.pipelines.promote_iter(huge(), concurrency=4)
    ) as outcomes:
        async for outcome in outcomes:
            taken.append(outcome)
            if len(taken) == 10:
                break

    assert all(o.ok for o in taken)
    # Read-ahead is bounded by 2 x concurrency outcomes not yet consumed.
    assert 10 <= pulled <= 10 + 2 * 4
    assert len(fake.requests) <= pulled
    assert _fanout_tasks() == []


async def test_promote_many_reads_its_input_as_requests_complete(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(40, targets=1)
    done = 0
    read_ahead: list[int] = []

    def source() -> Iterator[PromoteRequest]:
        for i, r in enumerate(requests):
            read_ahead.append(i - done)  # how far ahead of the finished ones we read
            yield r

    def count(progress: FanoutProgress) -> None:
        nonlocal done
        done = progress.done

    outcomes = await client.pipelines.promote_many(source(), concurrency=5, on_progress=count)
    assert len(outcomes) == 40
    assert max(read_ahead) <= 5


async def test_async_iterable_input(fake: FakeSevalla, client: SevallaClient) -> None:
    requests = fake.promote_requests(10, targets=2)

    async def source() -> AsyncIterator[Any]:
        for i, r in enumerate(requests):
            await asyncio.sleep(0)  # a real async source suspends between items
            yield (
                r
                if i % 2
                else {
                    "pipeline_id": r.pipeline_id,
                    "source_app_id": r.source_app_id,
                    "target_app_ids": r.target_app_ids,
                }
            )

    outcomes = await client.pipelines.promote_many(source(), concurrency=4)
    assert [o.request for o in outcomes] == requests
    assert all(o.ok for o in outcomes)

    streamed = [o async for o in client.pipelines.promote_iter(source(), concurrency=3)]
    assert sorted(o.index for o in streamed) == list(range(10))
    assert all(o.ok for o in streamed)


async def test_an_error_raised_by_the_input_stops_the_run(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(3, targets=1)

    def broken() -> Iterator[PromoteRequest]:
        yield from requests
        raise RuntimeError("plan file truncated")

    with pytest.raises(FanoutError) as info:
        await client.pipelines.promote_many(broken(), concurrency=2)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "plan file truncated" in str(info.value.__cause__)
    assert [o.index for o in info.value.outcomes] == [0, 1, 2]
    assert all(o.state is PromotionState.PROMOTED for o in info.value.outcomes)
    assert _fanout_tasks() == []
    seen: list[PromoteOutcome] = []

    async def drain() -> None:
        async for outcome in client.pipelines.promote_iter(broken(), concurrency=2):
            seen.append(outcome)

    with pytest.raises(FanoutError) as info:
        await drain()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert len(seen) == 3
    # promote_iter keeps no outcome it yielded (bounded memory): all 3 were yielded
    assert info.value.outcomes == []
    assert _fanout_tasks() == []

    ledger = FanoutLedger()
    with pytest.raises(FanoutError) as info:
        async for _ in client.pipelines.promote_iter(broken(), concurrency=2, ledger=ledger):
            pass
    assert [o.index for o in info.value.outcomes] == [0, 1, 2]  # the ledger keeps them
    assert [o.index for o in ledger.outcomes] == [0, 1, 2]
    assert _fanout_tasks() == []


async def test_promote_iter_keeps_no_outcome_once_yielded_without_a_ledger(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Bounded memory whatever the input's size: an outcome the consumer has dropped is
    freed (the fan-out keeps only the entries in flight)."""
    requests = fake.promote_requests(200, targets=1)  # distinct: a repeat is refused
    seen: list[weakref.ref[PromoteOutcome]] = []

    def plan() -> Iterator[PromoteRequest]:
        yield from requests

    alive: list[weakref.ref[PromoteOutcome]] = []
    stream = client.pipelines.promote_iter(plan(), concurrency=4)
    async with contextlib.aclosing(stream):
        async for outcome in stream:
            assert outcome.ok
            seen.append(weakref.ref(outcome))
            if len(seen) == 150:  # mid-run: the first 100 were yielded long ago
                gc.collect()
                alive = [ref for ref in seen[:100] if ref() is not None]
    assert len(seen) == 200
    assert alive == []

    ledger = FanoutLedger()  # with a ledger, every outcome is kept
    async for _ in client.pipelines.promote_iter(plan(), concurrency=4, ledger=ledger):
        pass
    assert len(ledger.outcomes) == 200


# --- cancellation -------------------------------------------------------------------------


@pytest.mark.sevalla_loopback
async def test_cancelling_the_caller_cancels_in_flight_work(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(7, targets=1)
    for r in requests[1:]:  # after the first (the budget probe), they linger in flight
        fake.inject(Fault.slow(0.2), path=_path(r))
    task = asyncio.create_task(client.pipelines.promote_many(requests, concurrency=3))
    await _wait_until(lambda: fake.in_flight == 3)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert _fanout_tasks() == []
    connector = client._transport.session.connector
    assert connector is not None
    assert len(connector._acquired) == 0  # every connection went back (or was closed)
    assert len(fake.requests) == 4  # nothing more was sent after the cancellation


@pytest.mark.sevalla_loopback
async def test_closing_promote_iter_cancels_in_flight_work(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(8, targets=1)
    for r in requests[1:]:  # only the first one answers at once
        fake.inject(Fault.slow(0.2), path=_path(r))
    iterator = client.pipelines.promote_iter(requests, concurrency=4)

    first = await anext(iterator)
    assert _fanout_tasks()  # workers are busy with the slow ones
    await iterator.aclose()

    assert first.index == 0
    assert first.ok
    assert _fanout_tasks() == []
    connector = client._transport.session.connector
    assert connector is not None
    assert len(connector._acquired) == 0
    assert len(fake.requests) <= 4 + 1  # no more than the bound was ever started


async def test_cancelling_a_consumer_of_promote_iter_leaves_no_task(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(5, targets=1)
    for r in requests[1:]:
        fake.inject(Fault.slow(0.2), path=_path(r))

    async def consume() -> None:
        async with contextlib.aclosing(
            client.pipelines.promote_iter(requests, concurrency=4)
        ) as outcomes:
            async for _ in outcomes:
                pass

    task = asyncio.create_task(consume())
    await _wait_until(lambda: fake.in_flight == 4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _fanout_tasks() == []


async def test_engine_cancels_and_awaits_every_worker() -> None:
    """The scheduling alone, with a call that never finishes on its own."""
    started: list[int] = []
    cancelled: list[int] = []
    forever = asyncio.Event()
    requests = [PromoteRequest(uuid.uuid4(), uuid.uuid4(), [uuid.uuid4()]) for _ in range(100)]

    async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
        started.append(index)
        try:
            await forever.wait()
        except asyncio.CancelledError:
            cancelled.append(index)
            raise
        raise AssertionError("unreachable")

    before = asyncio.all_tasks()
    fanout = Fanout(requests, call, concurrency=7, clock=lambda: 0.0)
    task = asyncio.create_task(fanout.collect())
    await _wait_until(lambda: len(started) == 7)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(cancelled) == sorted(started) == list(range(7))
    assert asyncio.all_tasks() == before


async def test_engine_turns_any_exception_of_a_call_into_its_outcome() -> None:
    requests = [PromoteRequest(uuid.uuid4(), uuid.uuid4(), [uuid.uuid4()]) for _ in range(5)]

    async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
        if index == 1:
            raise RuntimeError("boom")
        return PromoteOutcome(request, [], None, index)

    outcomes = await Fanout(requests, call, concurrency=2, clock=lambda: 0.0).collect()
    assert [o.ok for o in outcomes] == [True, False, True, True, True]
    assert isinstance(outcomes[1].error, RuntimeError)
    # nothing recorded a send (the request loop marks that), so it never left
    assert outcomes[1].state is PromotionState.NOT_SENT
    assert not outcomes[1].sent


async def test_a_fanout_runs_once() -> None:
    async def call(request: PromoteRequest, index: int, record: WriteRecord) -> PromoteOutcome:
        return PromoteOutcome(request, [], None, index)

    fanout = Fanout([], call, concurrency=1, clock=lambda: 0.0)
    assert await fanout.collect() == []
    with pytest.raises(RuntimeError, match="once"):
        await fanout.collect()


# --- progress -----------------------------------------------------------------------------


async def test_progress_hook_sees_every_outcome(fake: FakeSevalla, client: SevallaClient) -> None:
    requests: list[Any] = fake.promote_requests(9, targets=1)
    fake.inject(Fault.error(500), path=_path(requests[4]))
    requests.append({"bad": True})
    snapshots: list[FanoutProgress] = []

    outcomes = await client.pipelines.promote_many(
        requests, concurrency=3, on_progress=snapshots.append
    )

    assert [s.done for s in snapshots] == list(range(1, 11))
    assert {s.outcome.index for s in snapshots} == set(range(10))
    assert all(s.total == 10 for s in snapshots)
    last = snapshots[-1]
    assert (last.succeeded, last.failed, last.skipped) == (8, 2, 0)
    assert last.in_flight == 0
    assert all(0 <= s.in_flight <= 3 for s in snapshots)
    assert {o.index for o in outcomes if not o.ok} == {4, 9}
    assert {s.outcome.index for s in snapshots if not s.outcome.ok} == {4, 9}


async def test_progress_total_is_unknown_for_a_generator(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(3, targets=1)
    snapshots: list[FanoutProgress] = []
    async for _ in client.pipelines.promote_iter(
        (r for r in requests), on_progress=snapshots.append
    ):
        pass
    assert [s.total for s in snapshots] == [None, None, None]
    assert snapshots[-1].done == 3


async def test_an_error_raised_by_the_progress_hook_stops_the_run(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(5, targets=1)

    def hook(progress: FanoutProgress) -> None:
        if progress.done == 2:
            raise KeyError("display broke")

    with pytest.raises(KeyError, match="display broke"):
        await client.pipelines.promote_many(requests, concurrency=1, on_progress=hook)
    assert len(fake.requests) == 2
    assert _fanout_tasks() == []


def test_progress_rate_and_eta() -> None:
    outcome = PromoteOutcome(None, [], None, 0)
    p = FanoutProgress(outcome, 50, 45, 5, 0, 4, 200, 10.0)
    assert p.rate == 5.0
    assert p.eta == 30.0
    assert FanoutProgress(outcome, 0, 0, 0, 0, 0, 10, 0.0).rate == 0.0
    assert FanoutProgress(outcome, 5, 5, 0, 0, 0, None, 1.0).eta is None
    assert FanoutProgress(outcome, 0, 0, 0, 0, 0, 10, 1.0).eta is None


# --- rate limit ---------------------------------------------------------------------------


@pytest.mark.sevalla_loopback
async def test_rate_limited_fanout_waits_for_the_budget_instead_of_failing() -> None:
    """5 writes per 60 s and a 30 s timeout per call: queueing behind the limit must not
    time the calls out, and the budget is never overrun (no 429)."""
    clock = FakeClock()
    async with FakeSevalla(clock=clock, write_limit=RateLimit(5, 60.0)) as fake:
        requests = fake.promote_requests(12, targets=1)
        async with SevallaClient(
            fake.api_key, base_url=fake.base_url, timeout=30.0, sleep=clock.sleep, clock=clock
        ) as client:
            start = clock()
            outcomes = await client.pipelines.promote_many(requests, concurrency=3)
            elapsed = clock() - start
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    statuses = [r.status for r in fake.requests_to("POST", "/promote")]
    assert statuses == [200] * 12
    # 12 requests at 5 per window: at least 2 resets were waited for. (FakeClock adds up
    # the waits of concurrent sleepers, so the elapsed fake time has no tight upper bound;
    # benchmarks/ measures the real one.)
    assert elapsed >= 120.0


@pytest.mark.sevalla_loopback
async def test_a_fresh_client_probes_the_budget_before_fanning_out() -> None:
    """The limit (4 per window) is below the concurrency (10): the first request goes alone
    and tells the budget, so the fan-out never overruns it."""
    clock = FakeClock()
    async with FakeSevalla(clock=clock, write_limit=RateLimit(4, 60.0)) as fake:
        requests = fake.promote_requests(10, targets=1)
        async with SevallaClient(
            fake.api_key, base_url=fake.base_url, sleep=clock.sleep, clock=clock
        ) as client:
            outcomes = await client.pipelines.promote_many(requests, concurrency=10)
    assert all(o.ok for o in outcomes)
    assert [r.status for r in fake.requests] == [200] * 10  # no 429 at all


@pytest.mark.sevalla_loopback
async def test_single_promote_still_times_out_behind_a_long_hold() -> None:
    """The fan-out's wait is its own; a lone call keeps its documented deadline."""
    clock = FakeClock()
    async with FakeSevalla(clock=clock, write_limit=RateLimit(1, 60.0)) as fake:
        requests = fake.promote_requests(2, targets=1)
        async with SevallaClient(
            fake.api_key, base_url=fake.base_url, timeout=30.0, sleep=clock.sleep, clock=clock
        ) as client:
            await client.pipelines.promote_request(requests[0])
            with pytest.raises(ClientRateLimitError):  # a RateLimitError, not sent
                await client.pipelines.promote_request(requests[1])

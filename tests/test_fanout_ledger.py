"""The fan-out ledger: every entry read gets exactly one outcome, on every exit path."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from sevalla_async import (
    FanoutError,
    FanoutLedger,
    PromoteOutcome,
    PromotionState,
    SevallaClient,
)
from sevalla_async.testing import FakeSevalla, Fault


async def until(predicate, *, limit: int = 20_000) -> None:
    """Let the loop run (real I/O to the fake) until ``predicate()`` holds."""
    for _ in range(limit):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition never held")


def check_ledger(ledger: FanoutLedger, read: int) -> None:
    """One outcome per entry read, indexes 0..read-1, each with a state."""
    assert [o.index for o in ledger.outcomes] == list(range(read))
    assert ledger.pending == 0
    for outcome in ledger.outcomes:
        assert isinstance(outcome.state, PromotionState)
        if outcome.state is PromotionState.UNKNOWN:
            assert outcome.sent_at is not None


@pytest.mark.sevalla_loopback  # requests held in flight by real I/O
async def test_cancel_while_in_flight_leaves_unknown_with_sent_at(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(20, targets=1)
    await client.pipelines.promote_request(requests.pop())  # the client learns its budget
    fake.inject(Fault.slow(30), times=4, method="POST")  # the first four hang
    ledger = FanoutLedger()
    task = asyncio.create_task(
        client.pipelines.promote_many(requests, concurrency=4, ledger=ledger)
    )
    await until(lambda: fake.in_flight == 4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    check_ledger(ledger, ledger.read)
    states = [o.state for o in ledger.outcomes]
    assert states.count(PromotionState.UNKNOWN) == 4
    received = len(fake.requests_to("POST", "/promote")) - 1
    sent = [o for o in ledger.outcomes if o.state is not PromotionState.NOT_SENT]
    assert len(sent) == received  # every POST the API saw is accounted for
    fake.clear_faults()


@pytest.mark.sevalla_loopback  # requests held in flight by real I/O
async def test_aclose_of_promote_iter_accounts_for_what_was_in_flight(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(10, targets=1)
    ledger = FanoutLedger()
    stream = client.pipelines.promote_iter(requests, concurrency=3, ledger=ledger)
    first = await anext(stream)
    fake.inject(Fault.slow(30), times=100, method="POST")
    await until(lambda: fake.in_flight > 0)
    await stream.aclose()
    check_ledger(ledger, ledger.read)
    assert ledger.outcomes[first.index] == first
    assert PromotionState.UNKNOWN in {o.state for o in ledger.outcomes}
    fake.clear_faults()


async def test_input_raising_gives_fanout_error_with_every_outcome(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(5, targets=1)

    def plan() -> Iterator[object]:
        yield from requests[:3]
        yield {"pipeline_id": "nope"}
        yield requests[3]
        raise OSError("disk gone")

    ledger = FanoutLedger()
    with pytest.raises(FanoutError) as info:
        await client.pipelines.promote_many(plan(), concurrency=2, ledger=ledger)
    assert isinstance(info.value.__cause__, OSError)
    states = [o.state for o in info.value.outcomes]
    assert states == [PromotionState.PROMOTED] * 3 + [
        PromotionState.NOT_SENT,
        PromotionState.PROMOTED,
    ]
    assert ledger.outcomes == info.value.outcomes
    assert len(fake.requests_to("POST", "/promote")) == 4


async def test_fail_fast_marks_the_rest_not_sent(fake: FakeSevalla, client: SevallaClient) -> None:
    requests = fake.promote_requests(6, targets=1)
    fake.inject(Fault.error(404), method="POST")
    outcomes = await client.pipelines.promote_many(requests, concurrency=1, fail_fast=True)
    assert outcomes[0].state is PromotionState.REJECTED
    assert {o.state for o in outcomes[1:]} == {PromotionState.NOT_SENT}
    assert len(fake.requests_to("POST", "/promote")) == 1


async def test_client_closed_before_sending_is_not_sent(make_client, fake: FakeSevalla) -> None:
    client = make_client()
    requests = fake.promote_requests(3, targets=1)
    await client.aclose()
    outcomes = await client.pipelines.promote_many(requests)
    assert [o.state for o in outcomes] == [PromotionState.NOT_SENT] * 3
    assert not any(o.sent for o in outcomes)
    assert fake.requests_to("POST") == []


async def test_each_state_shows_on_fanout_outcomes(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(4, targets=1)
    fake.inject(
        Fault.error(500), method="POST", path=f"/pipelines/{requests[1].pipeline_id}/promote"
    )
    fake.inject(
        Fault.error(409), method="POST", path=f"/pipelines/{requests[2].pipeline_id}/promote"
    )
    plan: list[object] = [requests[0], requests[1], requests[2], {"bad": 1}]
    outcomes = await client.pipelines.promote_many(plan)
    assert [o.state for o in outcomes] == [
        PromotionState.PROMOTED,
        PromotionState.UNKNOWN,
        PromotionState.REJECTED,
        PromotionState.NOT_SENT,
    ]
    assert outcomes[0].ok
    assert outcomes[1].sent_at is not None
    assert outcomes[2].sent_at is not None  # it left, and was refused
    assert outcomes[3].sent_at is None


async def test_ledger_observes_outcomes_as_recorded(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(5, targets=1)
    seen: list[PromoteOutcome] = []
    ledger = FanoutLedger(on_outcome=seen.append)
    await client.pipelines.promote_many(requests, ledger=ledger, concurrency=2)
    assert sorted(o.index for o in seen) == [0, 1, 2, 3, 4]
    assert len(ledger) == 5


async def test_reconcile_in_a_fanout(fake: FakeSevalla, client: SevallaClient) -> None:
    requests = fake.promote_requests(4, targets=2)
    fake.inject(
        Fault.act_then_fail("disconnect"),
        method="POST",
        path=f"/pipelines/{requests[0].pipeline_id}/promote",
    )
    fake.inject(
        Fault.fail_without_acting("error"),
        method="POST",
        path=f"/pipelines/{requests[1].pipeline_id}/promote",
    )
    outcomes = await client.pipelines.promote_many(requests, reconcile=True)
    assert all(o.state is PromotionState.PROMOTED for o in outcomes)
    for request in requests:
        for target in request.target_app_ids:
            made = [
                d
                for d in fake.state.deployments.values()
                if d.app_id == target and d.trigger == "PROMOTION"
            ]
            assert len(made) == 1


def test_ledger_refuses_a_non_callable_hook() -> None:
    with pytest.raises(ValueError, match="on_outcome"):
        FanoutLedger(on_outcome=5)  # type: ignore[arg-type]


async def test_ledger_must_be_a_ledger(fake: FakeSevalla, client: SevallaClient) -> None:
    with pytest.raises(ValueError, match="ledger"):
        await client.pipelines.promote_many([], ledger=[])  # type: ignore[arg-type]

"""A fan-out refuses an entry that repeats an earlier one (same pipeline, source and set of
targets, or only some of them), as the CLI refuses such a plan: a promotion is not
idempotent, so the repeat would deploy twice. The repeat becomes an invalid entry naming
the earlier row."""

from __future__ import annotations

import contextlib
import tracemalloc
import uuid
from collections.abc import Iterator

from sevalla_async import (
    PromoteOutcome,
    PromoteRequest,
    PromoteRequestDict,
    PromotionState,
    SevallaClient,
)
from sevalla_async._fanout import RepeatGuard
from sevalla_async.testing import FakeSevalla


def _plan(fake: FakeSevalla) -> list[PromoteRequest | PromoteRequestDict]:
    first, second = fake.promote_requests(2, targets=2)
    as_dict: PromoteRequestDict = {
        "pipeline_id": str(first.pipeline_id),
        "source_app_id": str(first.source_app_id).upper(),
        "target_app_ids": [str(t) for t in reversed(first.target_app_ids)],
    }
    fewer_targets = PromoteRequest(
        second.pipeline_id, second.source_app_id, second.target_app_ids[:1]
    )
    return [first, second, first, as_dict, fewer_targets, second]


def _check(outcomes: list[PromoteOutcome], fake: FakeSevalla) -> None:
    assert [o.index for o in outcomes] == list(range(6))
    assert [o.ok for o in outcomes] == [True, True, False, False, False, False]
    for index, earlier in ((2, 0), (3, 0), (4, 1), (5, 1)):
        outcome = outcomes[index]
        assert isinstance(outcome.error, ValueError)
        assert f"is already a target of entry {earlier} " in str(outcome.error)
        assert outcome.state is PromotionState.NOT_SENT
        assert not outcome.sent
        assert outcome.sent_at is None
        assert isinstance(outcome.request, PromoteRequest)  # valid in itself
    # Only the two distinct requests reached the API (a subset of targets repeats them).
    assert len(fake.requests) == 2


async def test_promote_many_refuses_repeated_rows(fake: FakeSevalla, client: SevallaClient) -> None:
    outcomes = await client.pipelines.promote_many(_plan(fake), concurrency=2)
    _check(outcomes, fake)


async def test_promote_iter_refuses_repeated_rows(fake: FakeSevalla, client: SevallaClient) -> None:
    async with contextlib.aclosing(
        client.pipelines.promote_iter(iter(_plan(fake)), concurrency=2)
    ) as stream:
        outcomes = sorted([o async for o in stream], key=lambda o: o.index)
    _check(outcomes, fake)


async def test_a_repeat_counts_as_failed_for_fail_fast(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request, other = fake.promote_requests(2, targets=1)
    outcomes = await client.pipelines.promote_many(
        [request, request, other], concurrency=1, fail_fast=True
    )
    assert [o.ok for o in outcomes] == [True, False, False]
    assert outcomes[2].skipped
    assert len(fake.requests) == 1


def _distinct(count: int) -> Iterator[PromoteRequest]:
    source, target = uuid.uuid4(), uuid.uuid4()
    for _ in range(count):
        yield PromoteRequest(uuid.uuid4(), source, [target])


def test_the_repeat_guard_costs_a_bounded_amount_per_entry() -> None:
    count = 20_000
    requests = list(_distinct(count))
    guard = RepeatGuard()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index, request in enumerate(requests):
            assert guard.earlier(request, index) is None
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    # The docstring says about 135 bytes a target (a 16-byte digest and the index); a
    # request with many targets is remembered by one digest a target, and its repeat found.
    assert per_entry < 200
    big = PromoteRequest(uuid.uuid4(), uuid.uuid4(), [uuid.uuid4() for _ in range(50)])
    assert guard.earlier(big, count) is None
    repeat = guard.earlier(big, count + 1)
    assert repeat is not None
    assert repeat.entry == count

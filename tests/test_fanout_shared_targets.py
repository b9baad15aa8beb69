"""A target promoted by two entries of one fan-out (same pipeline, same source) would be
deployed twice: the library refuses the later entry, whatever the order or the other
targets, and the CLI refuses the whole plan by the same rule before sending anything."""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path

import pytest

from sevalla_async import PromoteRequest, PromotionState, SevallaClient
from sevalla_async._cli._plan import PlanError, parse_plan
from sevalla_async._fanout import RepeatGuard, repeat_error
from sevalla_async.testing import FakeSevalla

from .test_cli import Cli, make_cli, plan_of, write_plan


def _sharing(fake: FakeSevalla) -> list[PromoteRequest]:
    """Entry 2 shares one target with entry 0 (same pipeline and source), besides its own."""
    (base,) = fake.promote_requests(1, targets=3)
    (other,) = fake.promote_requests(1, targets=2)
    a, b, own = base.target_app_ids
    first = PromoteRequest(base.pipeline_id, base.source_app_id, [a, b])
    shared = PromoteRequest(base.pipeline_id, base.source_app_id, [own, b])
    return [first, other, shared]


@pytest.mark.parametrize("stream", [False, True], ids=["promote_many", "promote_iter"])
async def test_a_target_of_an_earlier_entry_is_refused_not_sent(
    fake: FakeSevalla, client: SevallaClient, stream: bool
) -> None:
    plan = _sharing(fake)
    if stream:
        async with contextlib.aclosing(
            client.pipelines.promote_iter(iter(plan), concurrency=1)
        ) as outcomes:
            got = sorted([o async for o in outcomes], key=lambda o: o.index)
    else:
        got = await client.pipelines.promote_many(plan, concurrency=1)

    assert [o.ok for o in got] == [True, True, False]
    refused = got[2]
    assert isinstance(refused.error, ValueError)
    shared = plan[0].target_app_ids[1]
    assert str(refused.error).startswith(
        f"target_app_ids: {shared} is already a target of entry 0 (same pipeline and source): "
        "a promotion is not idempotent"
    )
    assert refused.state is PromotionState.NOT_SENT
    assert not refused.sent
    assert len(fake.requests) == 2
    assert all(d.target_app_id != plan[2].target_app_ids[0] for d in got[0].promotions or ())


def test_the_guard_remembers_each_target_by_pipeline_and_source() -> None:
    pipeline, source, a, b, c = (uuid.uuid4() for _ in range(5))
    guard = RepeatGuard()
    assert guard.earlier(PromoteRequest(pipeline, source, [a, b]), 0) is None
    # another source or pipeline to the same target is another promotion
    assert guard.earlier(PromoteRequest(pipeline, uuid.uuid4(), [a]), 1) is None
    assert guard.earlier(PromoteRequest(uuid.uuid4(), source, [a]), 2) is None
    repeat = guard.earlier(PromoteRequest(pipeline, source, [c, b]), 3)
    assert repeat is not None
    assert "entry 0" in str(repeat_error(repeat))
    assert str(b) in str(repeat_error(repeat))
    # a refused entry is not sent: its other targets are not remembered
    assert guard.earlier(PromoteRequest(pipeline, source, [c]), 4) is None


@pytest.mark.sevalla_loopback
async def test_the_cli_refuses_a_plan_whose_entries_share_a_target(
    fake: FakeSevalla, tmp_path: Path
) -> None:
    cli: Cli = make_cli(fake)
    plan = write_plan(tmp_path / "plan.json", plan_of(_sharing(fake)))

    run = await cli("promote-many", plan)

    assert run.code == 2
    assert "entry 2: target_app_ids: " in run.err
    assert "is already a target of entry 0 (same pipeline and source)" in run.err
    assert "nothing was sent" in run.err
    assert fake.requests == []


@pytest.mark.sevalla_loopback
async def test_a_repeat_with_its_targets_reordered_is_refused_by_the_cli(
    fake: FakeSevalla, tmp_path: Path
) -> None:
    cli: Cli = make_cli(fake)
    first, other = fake.promote_requests(2, targets=2)
    swapped = PromoteRequest(
        first.pipeline_id, first.source_app_id, list(reversed(first.target_app_ids))
    )
    plan = write_plan(tmp_path / "plan.json", plan_of([first, other, swapped]))

    run = await cli("promote-many", plan)  # no traceback: the plan check uses the same rule

    assert run.code == 2
    assert "entry 2: target_app_ids: " in run.err
    assert "is already a target of entry 0" in run.err
    assert fake.requests == []


def test_the_plan_check_is_the_fan_out_rule() -> None:
    pipeline, source, a, b = (uuid.uuid4() for _ in range(4))
    entries = [
        {"pipeline_id": str(pipeline), "source_app_id": str(source), "target_app_ids": [str(a)]},
        {"pipeline_id": str(pipeline), "source_app_id": str(source), "target_app_ids": [str(b)]},
        {
            "pipeline_id": str(pipeline),
            "source_app_id": str(source),
            "target_app_ids": [str(b), str(a)],
        },
    ]
    with pytest.raises(PlanError) as info:
        parse_plan(json.dumps(entries))
    (problem,) = info.value.problems
    guard = RepeatGuard()
    for index, entry in enumerate(entries[:2]):
        guard.earlier(PromoteRequest.from_dict(entry), index)
    repeat = guard.earlier(PromoteRequest.from_dict(entries[2]), 2)
    assert repeat is not None
    assert problem == f"entry 2: {repeat_error(repeat)}"

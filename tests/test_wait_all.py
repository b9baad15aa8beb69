"""Waiting for many deployments (``deployments.wait_all``) and the promote-then-wait flow
(``pipelines.promote_and_wait``), end to end with the fake clock."""

from __future__ import annotations

import asyncio
import functools
import uuid

import pytest

from sevalla_async import (
    APITimeoutError,
    Deployment,
    DeploymentStatus,
    NotFoundError,
    PromoteRequest,
    Promotion,
    SevallaClient,
    SevallaError,
    WaitAllError,
)
from sevalla_async._wait import in_target_order
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


def deployments(fake: FakeSevalla, *scripts: list[str | None]) -> list[Promotion]:
    out = []
    for script in scripts:
        app = fake.add_app(deployed=False)
        out.append(Promotion(app, fake.add_deployment(app, script=script).id))
    return out


# --- wait_all ------------------------------------------------------------------------------------


async def test_results_come_in_input_order(fake: FakeSevalla, client: SevallaClient) -> None:
    # the first one finishes last
    promotions = deployments(
        fake,
        ["waiting", "waiting", "waiting", "inProgress", "success"],
        ["success"],
        ["inProgress", "success"],
    )
    finished_order: list[uuid.UUID] = []

    def note(d: Deployment) -> None:
        if d.is_finished:
            finished_order.append(d.id)

    results = await client.deployments.wait_all(promotions, on_poll=note)

    assert [d.id for d in results] == [p.deployment_id for p in promotions]
    assert all(d.succeeded for d in results)
    assert finished_order[-1] == promotions[0].deployment_id  # done last, listed first


async def test_failed_deployments_are_results(fake: FakeSevalla, client: SevallaClient) -> None:
    promotions = deployments(fake, ["waiting", "failed"], ["success"], ["cancelled"])
    results = await client.deployments.wait_all(promotions)
    assert [d.status for d in results] == [
        DeploymentStatus.FAILED,
        DeploymentStatus.SUCCESS,
        DeploymentStatus.CANCELLED,
    ]
    assert [d.succeeded for d in results] == [False, True, False]


async def test_mixed_outcomes_lose_nothing(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    ok, failed, stuck = deployments(
        fake, ["waiting", "success"], ["inProgress", "failed"], ["inProgress"]
    )
    missing = Promotion(fake.add_app(deployed=False), uuid.uuid4())
    start = clock()

    with pytest.raises(WaitAllError) as info:
        await client.deployments.wait_all([ok, missing, failed, stuck], timeout=120)

    error = info.value
    assert isinstance(error, SevallaError)
    assert error.promotions == [ok, missing, failed, stuck]
    first, second, third, fourth = error.results
    assert isinstance(first, Deployment)
    assert first.succeeded
    assert isinstance(second, NotFoundError)
    assert isinstance(third, Deployment)
    assert third.status is DeploymentStatus.FAILED
    assert isinstance(fourth, APITimeoutError)
    assert fourth.last_result is not None
    assert fourth.last_result.status is DeploymentStatus.IN_PROGRESS
    assert set(error.errors) == {1, 3}
    assert set(error.deployments) == {0, 2}
    assert error.__cause__ is second
    assert "2 of 4" in str(error)
    assert str(missing.deployment_id) in str(error)
    # the stuck one was polled until its deadline, not longer
    assert clock() - start < 120
    assert fake.requests_to("GET", str(stuck.deployment_id))


async def test_pairs_are_accepted(fake: FakeSevalla, client: SevallaClient) -> None:
    (p,) = deployments(fake, ["success"])
    (result,) = await client.deployments.wait_all([(str(p.target_app_id), str(p.deployment_id))])
    assert result.id == p.deployment_id


async def test_no_input_is_no_request(fake: FakeSevalla, client: SevallaClient) -> None:
    assert await client.deployments.wait_all([]) == []
    assert fake.requests == []


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([("nope", str(uuid.uuid4()))], r"promotions\[1\]\.app_id"),
        ([(str(uuid.uuid4()), "x")], r"promotions\[1\]\.deployment_id"),
        (["ab"], r"promotions\[1\]"),
        ([(str(uuid.uuid4()),)], r"promotions\[1\]"),
        ([42], r"promotions\[1\]"),
    ],
)
async def test_bad_entries_fail_before_any_request(
    fake: FakeSevalla, client: SevallaClient, items: list[object], message: str
) -> None:
    (good,) = deployments(fake, ["success"])
    with pytest.raises(ValueError, match=message):
        await client.deployments.wait_all([good, *items])  # type: ignore[list-item]
    assert fake.requests == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 2.0}, "concurrency"),
        ({"timeout": 0}, "timeout"),
        ({"poll_factor": 0}, "poll_factor"),
    ],
)
async def test_bad_options_fail_before_any_request(
    fake: FakeSevalla, client: SevallaClient, options: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        await client.deployments.wait_all(deployments(fake, ["success"]), **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="promotions"):
        await client.deployments.wait_all("not a list")  # type: ignore[arg-type]
    assert fake.requests == []


async def test_concurrency_bounds_the_deployments_polled_at_once(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    promotions = deployments(fake, *[["waiting", "inProgress", "success"]] * 6)
    order = [p.deployment_id for p in promotions]

    await client.deployments.wait_all(promotions, concurrency=2)

    # replay the GETs: a deployment is "open" from its first poll to its finishing poll
    polled = [uuid.UUID(r.path.rsplit("/", 1)[1]) for r in fake.requests]
    assert len(polled) == 18
    open_now: set[uuid.UUID] = set()
    counts = {d: 0 for d in order}
    peak = 0
    for dep in polled:
        open_now.add(dep)
        peak = max(peak, len(open_now))
        counts[dep] += 1
        if counts[dep] == 3:
            open_now.discard(dep)
    assert peak == 2
    assert set(polled[:2]) == set(order[:2])  # taken up in input order


async def test_a_transient_fault_of_one_poll_is_retried(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    promotions = deployments(fake, ["waiting", "success"], ["waiting", "success"])
    fake.inject(Fault.error(502), method="GET", path=str(promotions[1].deployment_id))
    results = await client.deployments.wait_all(promotions)
    assert [d.succeeded for d in results] == [True, True]
    assert [r.status for r in fake.requests].count(502) == 1


async def test_cancelling_wait_all_leaves_no_task_behind(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    promotions = deployments(fake, *[["inProgress"]] * 4)
    polls = 0
    busy = asyncio.Event()

    def count(_: Deployment) -> None:
        nonlocal polls
        polls += 1
        if polls == 8:
            busy.set()

    task = asyncio.create_task(client.deployments.wait_all(promotions, timeout=None, on_poll=count))
    await busy.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    workers = [
        t for t in asyncio.all_tasks() if "wait_many" in getattr(t.get_coro(), "__qualname__", "")
    ]
    assert workers == []
    assert polls >= 8


async def test_polls_of_concurrent_waits_are_paced(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    client.deployments.max_polls_per_minute = 60
    promotions = deployments(fake, *[["success"]] * 4)
    start = clock()
    await client.deployments.wait_all(promotions, concurrency=4)
    assert clock.sleeps == [1.0, 2.0, 3.0]  # turns reserved one second apart
    assert clock() - start == 3.0


# --- promote_and_wait ----------------------------------------------------------------------------


async def test_promote_and_wait(fake: FakeSevalla, client: SevallaClient) -> None:
    pipeline = fake.add_pipeline(apps_per_stage=3)
    request = pipeline.promote_request(0, 1)
    fake.script_deployments(["waiting", "inProgress", "failed"], app_id=request.target_app_ids[1])
    seen: list[Deployment] = []

    results = await client.pipelines.promote_and_wait(
        str(pipeline.id),
        source_app_id=request.source_app_id,
        target_app_ids=[str(t) for t in request.target_app_ids],
        on_poll=seen.append,
    )

    assert [d.app_id for d in results] == list(request.target_app_ids)
    assert [d.status for d in results] == [
        DeploymentStatus.SUCCESS,
        DeploymentStatus.FAILED,
        DeploymentStatus.SUCCESS,
    ]
    (post,) = fake.requests_to("POST")
    assert post.path.endswith("/promote")
    assert fake.requests[0] is post
    assert {d.id for d in seen} == {d.id for d in results}


async def test_promote_and_wait_by_seconds(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    fake.script_deployments(["waiting", "inProgress", "success"], every=30)
    start = clock()
    results = await client.pipelines.promote_and_wait_request(request)
    assert all(d.succeeded for d in results)
    assert clock() - start >= 60


async def test_promote_failure_is_raised_and_nothing_is_polled(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1)[0]
    with pytest.raises(NotFoundError):
        await client.pipelines.promote_and_wait(
            uuid.uuid4(),
            source_app_id=request.source_app_id,
            target_app_ids=request.target_app_ids,
        )
    assert [r.method for r in fake.requests] == ["POST"]


async def test_promote_and_wait_timeout_keeps_every_result(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    fake.script_deployments(["inProgress"], app_id=request.target_app_ids[0])
    with pytest.raises(WaitAllError) as info:
        await client.pipelines.promote_and_wait_request(request, timeout=60)
    error = info.value
    assert [p.target_app_id for p in error.promotions] == list(request.target_app_ids)
    stuck, done = error.results
    assert isinstance(stuck, APITimeoutError)
    assert isinstance(done, Deployment)
    assert done.succeeded


async def test_promote_and_wait_checks_everything_before_sending(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1)[0]
    with pytest.raises(ValueError, match="target_app_ids"):
        await client.pipelines.promote_and_wait(
            request.pipeline_id, source_app_id=request.source_app_id, target_app_ids=[]
        )
    with pytest.raises(ValueError, match=r"^timeout:"):
        await client.pipelines.promote_and_wait_request(request, timeout=-1)
    with pytest.raises(ValueError, match=r"^max_poll_interval:"):
        await client.pipelines.promote_and_wait_request(request, max_poll_interval=0.5)
    with pytest.raises(ValueError, match=r"^request:"):
        await client.pipelines.promote_and_wait_request({"pipeline_id": 1})  # type: ignore[arg-type]
    assert fake.requests == []


async def test_promote_and_wait_per_request_in_a_fan_out(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """How a fan-out runs it: one plain coroutine call per request, options bound once."""
    requests = fake.promote_requests(3, targets=2)
    fake.script_deployments(["waiting", "failed"], app_id=requests[1].target_app_ids[0])
    run = functools.partial(client.pipelines.promote_and_wait_request, timeout=300)

    results = await asyncio.gather(*(run(r) for r in requests))

    for request, deployments_ in zip(requests, results, strict=True):
        assert [d.app_id for d in deployments_] == list(request.target_app_ids)
    assert [[d.succeeded for d in ds] for ds in results] == [
        [True, True],
        [False, True],
        [True, True],
    ]


def test_promotions_are_putin_target_order() -> None:
    a, b, c, stray = (uuid.uuid4() for _ in range(4))
    request = PromoteRequest(uuid.uuid4(), uuid.uuid4(), [a, b, c])
    reply = [Promotion(c, uuid.uuid4()), Promotion(stray, uuid.uuid4()), Promotion(a, uuid.uuid4())]
    reply.append(Promotion(b, uuid.uuid4()))
    ordered = in_target_order(reply, request.target_app_ids)
    assert [p.target_app_id for p in ordered] == [a, b, c, stray]

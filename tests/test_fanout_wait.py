"""promote_many / promote_iter with ``wait=True``: promote, then wait for each request's
deployments, end to end against the fake with the fake clock."""

from __future__ import annotations

import contextlib
import itertools
import uuid

import pytest

from sevalla_async import (
    APITimeoutError,
    Deployment,
    DeploymentStatus,
    InternalServerError,
    PromoteOutcome,
    SevallaClient,
    WaitAllError,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


def _statuses(outcome: PromoteOutcome) -> list[str | None]:
    return [d.status.value if d.status else None for d in outcome.deployments or ()]


async def test_wait_gives_final_deployments_in_input_and_target_order(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(5, targets=3)
    # the first request's last target finishes last of all
    fake.script_deployments(
        ["waiting", "waiting", "inProgress", "inProgress", "success"],
        app_id=requests[0].target_app_ids[2],
    )

    outcomes = await client.pipelines.promote_many(requests, concurrency=3, wait=True)

    assert [o.index for o in outcomes] == list(range(5))
    for outcome, request in zip(outcomes, requests, strict=True):
        assert outcome.ok
        assert outcome.succeeded
        assert outcome.error is None
        assert [p.target_app_id for p in outcome.promotions or ()] == list(request.target_app_ids)
        assert [d.app_id for d in outcome.deployments or ()] == list(request.target_app_ids)
        assert [d.id for d in outcome.deployments or ()] == [
            p.deployment_id for p in outcome.promotions or ()
        ]
        assert _statuses(outcome) == ["success"] * 3
    assert fake.deployment(outcomes[0].promotions[2].deployment_id).polls == 5  # type: ignore[index]


async def test_promote_iter_with_wait_yields_in_completion_order(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(3, targets=1)
    # Polls come about 1 s apart: three polls more than the others (not one) keep the
    # order certain whatever the others' promotions cost in virtual time.
    fake.script_deployments(
        ["waiting", *["inProgress"] * 4, "success"], app_id=requests[0].target_app_ids[0]
    )
    async with contextlib.aclosing(
        client.pipelines.promote_iter(requests, concurrency=3, wait=True)
    ) as stream:
        outcomes = [o async for o in stream]

    assert sorted(o.index for o in outcomes) == [0, 1, 2]
    assert outcomes[-1].index == 0  # waited for longest
    assert all(o.succeeded for o in outcomes)


async def test_a_failed_deployment_is_ok_but_not_succeeded(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(2, targets=2)
    fake.script_deployments(["inProgress", "failed"], app_id=requests[1].target_app_ids[0])

    good, bad = await client.pipelines.promote_many(requests, wait=True)

    assert good.ok
    assert good.succeeded
    assert bad.ok
    assert not bad.succeeded
    assert bad.error is None
    assert _statuses(bad) == ["failed", "success"]
    assert next(d.status for d in bad.deployments or ()) is DeploymentStatus.FAILED


async def test_a_wait_that_times_out_keeps_the_promotions_and_what_finished(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    requests = fake.promote_requests(2, targets=2)
    stuck_app = requests[0].target_app_ids[1]
    fake.script_deployments(["inProgress"], app_id=stuck_app)
    start = clock()

    stuck, fine = await client.pipelines.promote_many(requests, wait=True, wait_timeout=60)

    assert not stuck.ok
    assert not stuck.succeeded
    assert stuck.sent
    assert isinstance(stuck.error, WaitAllError)
    assert [p.target_app_id for p in stuck.promotions or ()] == list(requests[0].target_app_ids)
    assert stuck.promotions == stuck.error.promotions  # the promotion happened: not lost
    (finished,) = stuck.deployments or ()
    assert finished.app_id == requests[0].target_app_ids[0]
    assert finished.succeeded
    timeout = stuck.error.errors[1]
    assert isinstance(timeout, APITimeoutError)
    assert isinstance(timeout.last_result, Deployment)
    assert timeout.last_result.status is DeploymentStatus.IN_PROGRESS
    assert fine.succeeded
    assert 30 < clock() - start <= 60  # on the fake clock: stopped by its own timeout


async def test_invalid_entries_are_value_error_outcomes_and_never_sent(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    (request,) = fake.promote_requests(1, targets=1)
    bad = {"pipeline_id": "nope", "source_app_id": str(request.source_app_id)}

    good, invalid = await client.pipelines.promote_many([request, bad], wait=True)

    assert good.succeeded
    assert isinstance(invalid.error, ValueError)
    assert invalid.request is bad
    assert not invalid.sent
    assert not invalid.ok
    assert not invalid.succeeded
    assert invalid.deployments is None
    assert invalid.promotions is None
    assert len(fake.requests_to("POST")) == 1


async def test_fail_fast_with_wait_stops_at_an_error_not_at_a_failed_deployment(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(4, targets=1)
    fake.script_deployments(["failed"], app_id=requests[0].target_app_ids[0])
    fake.inject(
        Fault.error(503), method="POST", path=f"/pipelines/{requests[1].pipeline_id}/promote"
    )

    outcomes = await client.pipelines.promote_many(
        requests, concurrency=1, fail_fast=True, wait=True
    )

    assert outcomes[0].ok
    assert not outcomes[0].succeeded
    assert isinstance(outcomes[1].error, InternalServerError)
    assert outcomes[1].promotions is None
    assert outcomes[1].deployments is None
    assert [o.skipped for o in outcomes] == [False, False, True, True]
    assert len(fake.requests_to("POST")) == 2


async def test_on_poll_tells_the_index_and_polls_share_the_client_pacing(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    requests = fake.promote_requests(4, targets=2)
    fake.script_deployments(["waiting", "inProgress", "success"])
    client.deployments.max_polls_per_minute = 30  # one poll every 2 s, for the whole client
    seen: list[tuple[int, uuid.UUID, float]] = []

    outcomes = await client.pipelines.promote_many(
        requests,
        concurrency=4,
        wait=True,
        poll_interval=0.5,
        on_poll=lambda index, d: seen.append((index, d.id, clock())),
    )

    assert all(o.succeeded for o in outcomes)
    for outcome in outcomes:
        for d in outcome.deployments or ():
            assert sum(1 for i, ident, _ in seen if ident == d.id) == 3
            assert all(i == outcome.index for i, ident, _ in seen if ident == d.id)
    times = sorted(t for _, _, t in seen)
    assert len(times) == 24
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 2.0 - 1e-9  # 8 waits polling every 0.5 s, paced together


async def test_poll_interval_longer_than_the_usual_cap_is_fine(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    (request,) = fake.promote_requests(1, targets=1)
    fake.script_deployments(["waiting", "success"])
    start = clock()
    (outcome,) = await client.pipelines.promote_many([request], wait=True, poll_interval=40)
    assert outcome.succeeded
    assert clock() - start >= 40 * 0.9  # the second poll came one (jittered) interval later


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wait_timeout": 0}, "timeout"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"poll_interval": True}, "poll_interval"),
        ({"on_poll": "print"}, "on_poll"),
        ({"wait": "yes"}, "wait"),
    ],
)
async def test_bad_wait_options_raise_before_anything_is_sent(
    fake: FakeSevalla, client: SevallaClient, options: dict[str, object], message: str
) -> None:
    requests = fake.promote_requests(1)
    options = {"wait": True, **options}
    with pytest.raises(ValueError, match=message):
        await client.pipelines.promote_many(requests, **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        client.pipelines.promote_iter(requests, **options)  # type: ignore[arg-type]
    assert fake.requests == []

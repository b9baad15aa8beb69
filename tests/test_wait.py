"""Waiting for one deployment: the pure schedule and pacer, then ``client.deployments.wait``
end to end with the fake clock (nothing waits for real)."""

from __future__ import annotations

import itertools
import uuid

import pytest

from sevalla_async import (
    APITimeoutError,
    Deployment,
    DeploymentStatus,
    InternalServerError,
    NotFoundError,
    SevallaClient,
    WaitOptions,
)
from sevalla_async._wait import PollPacer, PollSettings
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

NO_JITTER = {"poll_jitter": 0.0}
# The 0.1 schedule (2 s growing 1.5x to 15 s), still available through the options; the
# tests of timings that were written for it use it explicitly.
OLD_SCHEDULE = {"poll_interval": 2.0, "poll_factor": 1.5, "max_poll_interval": 15.0}

# --- the plan (pure) -----------------------------------------------------------------------------


def take(plan: PollSettings, count: int) -> list[float]:
    return [round(x, 6) for x in itertools.islice(plan.growth(), count)]


def test_default_plan_polls_every_second_without_growth() -> None:
    plan = PollSettings.check()
    assert plan.poll_interval == 1.0
    assert plan.timeout == 15 * 60
    assert plan.options == WaitOptions()
    assert plan.options.budget_share == 0.5
    assert plan.options.poll_jitter == 0.1
    assert take(plan, 4) == [1.0, 1.0, 1.0, 1.0]


def test_growth_is_configurable() -> None:
    plan = PollSettings.check(
        poll_interval=1, options=WaitOptions(poll_factor=2, max_poll_interval=5)
    )
    assert take(plan, 5) == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert take(PollSettings.check(**OLD_SCHEDULE), 7) == [2.0, 3.0, 4.5, 6.75, 10.125, 15.0, 15.0]


def test_keywords_win_over_the_options_object() -> None:
    plan = PollSettings.check(options=WaitOptions(poll_factor=3, budget_share=0.2), poll_factor=2)
    assert plan.options == WaitOptions(poll_factor=2, budget_share=0.2)


def test_growth_never_overflows() -> None:
    plan = PollSettings.check(options=WaitOptions(poll_factor=10, max_poll_interval=15))
    assert list(itertools.islice(plan.growth(), 1000))[-1] == 15.0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"poll_interval": float("nan")}, "poll_interval"),
        ({"poll_interval": "2"}, "poll_interval"),
        ({"poll_interval": True}, "poll_interval"),
        ({"poll_interval": 20, "max_poll_interval": 15}, "max_poll_interval"),
        ({"max_poll_interval": float("inf")}, "max_poll_interval"),
        ({"poll_factor": 0.5}, "poll_factor"),
        ({"poll_jitter": 1}, "poll_jitter"),
        ({"poll_jitter": -0.1}, "poll_jitter"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout": 0}, "timeout"),
        ({"options": {"budget_share": 0.5}}, "options"),
    ],
)
def test_plan_refuses_bad_values(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        PollSettings.check(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"budget_share": 0}, "budget_share"),
        ({"budget_share": 1.5}, "budget_share"),
        ({"budget_share": "half"}, "budget_share"),
        ({"poll_factor": 0.9}, "poll_factor"),
        ({"max_poll_interval": 0}, "max_poll_interval"),
        ({"poll_jitter": 1.0}, "poll_jitter"),
    ],
)
def test_wait_options_refuse_bad_values(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        WaitOptions(**options)  # type: ignore[arg-type]


# --- the pacer -------------------------------------------------------------------------------


def make_pacer(
    clock: FakeClock, limit: int | None = None, per_minute: int | None = None
) -> PollPacer:
    return PollPacer(clock, clock.sleep, lambda: limit, per_minute)


def test_pacer_rate_is_a_share_of_the_learned_read_budget() -> None:
    clock = FakeClock(start=0.0)
    assert make_pacer(clock).rate(0.5) == 200  # nothing learned yet: 400 a minute assumed
    assert make_pacer(clock, limit=1000).rate(0.5) == 500
    assert make_pacer(clock, limit=1000).rate(1.0) == 1000
    assert make_pacer(clock, limit=1000, per_minute=60).rate(0.5) == 60  # the cap


def test_fair_interval_grows_with_the_active_waits() -> None:
    pacer = make_pacer(FakeClock(start=0.0))
    assert pacer.fair_interval(0.5) == pytest.approx(0.3)  # none active counts as one
    with pacer.active_wait(), pacer.active_wait(), pacer.active_wait():
        assert pacer.active == 3
        assert pacer.fair_interval(0.5) == pytest.approx(0.9)
    assert pacer.active == 0


async def test_pacer_spaces_polls() -> None:
    clock = FakeClock(start=0.0)
    pacer = make_pacer(clock)
    starts = []
    for _ in range(300):
        assert await pacer.acquire(0.5, None)
        starts.append(clock())
    # one every 0.3 s: 200 in the first minute, not one more
    assert len([t for t in starts if t < 60 - 1e-6]) == 200
    assert starts[:3] == pytest.approx([0.0, 0.3, 0.6])
    assert starts[-1] == pytest.approx(89.7)


async def test_pacer_lets_polls_through_when_there_is_room() -> None:
    clock = FakeClock(start=0.0)
    pacer = make_pacer(clock, per_minute=60)
    assert await pacer.acquire(0.5, None)
    clock.advance(5)
    assert await pacer.acquire(0.5, None)
    assert clock.sleeps == []


async def test_pacer_refuses_a_turn_past_the_deadline() -> None:
    clock = FakeClock(start=0.0)
    pacer = make_pacer(clock, per_minute=1)
    assert await pacer.acquire(0.5, deadline=10)
    assert not await pacer.acquire(0.5, deadline=10)  # next turn at 60
    assert clock.sleeps == []
    assert await pacer.acquire(0.5, deadline=61)
    assert clock() == 60


@pytest.mark.parametrize("value", [0, -5, 1.5, "300", True])
def test_max_polls_per_minute_is_checked(client: SevallaClient, value: object) -> None:
    with pytest.raises(ValueError, match="max_polls_per_minute"):
        client.deployments.max_polls_per_minute = value  # type: ignore[assignment]
    assert client.deployments.max_polls_per_minute is None  # the budget share governs
    client.deployments.max_polls_per_minute = 60
    assert client.deployments.max_polls_per_minute == 60


# --- wait end to end -----------------------------------------------------------------------------


def new_deployment(fake: FakeSevalla, script: list[str | None]) -> tuple[uuid.UUID, uuid.UUID]:
    app = fake.add_app(deployed=False)
    return app, fake.add_deployment(app, script=script).id


async def test_wait_returns_the_successful_deployment(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app, dep = new_deployment(fake, ["waiting", "inProgress", "inProgress", "success"])

    deployment = await client.deployments.wait(app, dep, **NO_JITTER)

    assert isinstance(deployment, Deployment)
    assert deployment.id == dep
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.succeeded
    assert clock.sleeps == [1.0, 1.0, 1.0]  # the floor: few waits poll every second
    assert [r.method for r in fake.requests] == ["GET"] * 4


async def test_wait_on_a_finished_deployment_is_one_poll(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app, dep = new_deployment(fake, ["success"])
    assert (await client.deployments.wait(app, dep)).succeeded
    assert len(fake.requests) == 1
    assert clock.sleeps == []


async def test_null_status_is_not_finished(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app, dep = new_deployment(fake, [None, None, "waiting", "success"])
    seen: list[DeploymentStatus | None] = []
    deployment = await client.deployments.wait(
        app, dep, on_poll=lambda d: seen.append(d.status), **NO_JITTER
    )
    assert seen == [None, None, DeploymentStatus.WAITING, DeploymentStatus.SUCCESS]
    assert deployment.succeeded


async def test_an_unknown_status_is_not_finished(fake: FakeSevalla, client: SevallaClient) -> None:
    app, dep = new_deployment(fake, ["verifying", "failed"])
    seen: list[DeploymentStatus | None] = []
    deployment = await client.deployments.wait(app, dep, on_poll=lambda d: seen.append(d.status))
    assert seen == [DeploymentStatus.UNKNOWN, DeploymentStatus.FAILED]
    assert deployment.status is DeploymentStatus.FAILED


@pytest.mark.parametrize("end", ["failed", "cancelled", "skipped"])
async def test_an_unsuccessful_end_is_returned_not_raised(
    fake: FakeSevalla, client: SevallaClient, end: str
) -> None:
    app, dep = new_deployment(fake, ["waiting", "inProgress", end])
    deployment = await client.deployments.wait(app, dep)
    assert deployment.status == end
    assert deployment.is_finished
    assert not deployment.succeeded


async def test_timeout_raises_with_the_last_deployment_seen(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app, dep = new_deployment(fake, ["waiting", "inProgress"])
    start = clock()

    with pytest.raises(APITimeoutError) as info:
        await client.deployments.wait(app, dep, timeout=20, **NO_JITTER, **OLD_SCHEDULE)

    error = info.value
    assert isinstance(error.last_result, Deployment)
    assert error.last_result.id == dep
    assert error.last_result.status is DeploymentStatus.IN_PROGRESS
    assert "inProgress" in str(error)
    assert str(dep) in str(error)
    # polls at 0, 2, 5, 9.5, 16.25; the next (26.4) would be past the deadline: no sleep to it
    assert clock.sleeps == [2.0, 3.0, 4.5, 6.75]
    assert clock() - start < 20
    assert error.attempts == 5
    assert len(fake.requests) == 5


async def test_timeout_none_waits_as_long_as_it_takes(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app, dep = new_deployment(fake, ["inProgress"] * 80 + ["success"])
    deployment = await client.deployments.wait(app, dep, timeout=None, poll_interval=15)
    assert deployment.succeeded
    assert clock.slept > 1000  # well past the default 15 minutes


async def test_progress_by_seconds(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app = fake.add_app(deployed=False)
    dep = fake.add_deployment(app, script=["waiting", "inProgress", "success"], every=10).id
    start = clock()
    deployment = await client.deployments.wait(app, dep, **NO_JITTER, **OLD_SCHEDULE)
    assert deployment.succeeded
    # polls at 0, 2, 5, 9.5, 16.25 (inProgress), 26.375: the first poll past 20 s
    assert clock() - start == pytest.approx(26.375)
    assert len(fake.requests) == 6


async def test_a_transient_5xx_during_a_poll_is_retried(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app, dep = new_deployment(fake, ["waiting", "success"])
    fake.inject(Fault.error(503), times=2, method="GET")
    deployment = await client.deployments.wait(app, dep)
    assert deployment.succeeded
    assert [r.status for r in fake.requests] == [503, 503, 200, 200]


async def test_a_lost_connection_during_a_poll_is_retried(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app, dep = new_deployment(fake, ["waiting", "success"])
    fake.inject(Fault.disconnect("after"), method="GET")
    assert (await client.deployments.wait(app, dep)).succeeded


async def test_a_persistent_5xx_is_raised(fake: FakeSevalla, make_client, clock: FakeClock) -> None:
    client = make_client(max_retries=2)
    app, dep = new_deployment(fake, ["waiting", "success"])
    fake.inject(Fault.error(500), times=3, method="GET")
    with pytest.raises(InternalServerError):
        await client.deployments.wait(app, dep)
    assert len(fake.requests) == 3


async def test_unknown_deployment_is_not_found_at_once(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app(deployed=False)
    with pytest.raises(NotFoundError):
        await client.deployments.wait(app, uuid.uuid4())
    assert len(fake.requests) == 1


async def test_a_hanging_poll_ends_at_the_wait_deadline(fake: FakeSevalla, make_client) -> None:
    """The GET of a poll is bounded by the wait's deadline, not by the client's 30 s (the only
    real waits of this file: a 0.1 s attempt timeout against a 0.25 s slow reply)."""
    client = make_client(max_retries=0)
    app, dep = new_deployment(fake, ["waiting"])
    fake.inject(Fault.slow(0.25), method="GET")
    with pytest.raises(APITimeoutError) as info:
        await client.deployments.wait(app, dep, timeout=0.1)
    assert info.value.last_result is None
    assert len(fake.requests) == 1


async def test_a_hanging_poll_keeps_the_last_deployment_seen(
    fake: FakeSevalla, make_client
) -> None:
    client = make_client(max_retries=0)
    app, dep = new_deployment(fake, ["waiting", "inProgress"])
    fake.inject(Fault(), method="GET")  # the first poll is answered normally
    fake.inject(Fault.slow(0.25), method="GET")  # the second, 2 s later, hangs
    with pytest.raises(APITimeoutError) as info:
        await client.deployments.wait(app, dep, timeout=2.1, **NO_JITTER, poll_interval=2.0)
    assert len(fake.requests) == 2
    assert info.value.last_result is not None
    assert info.value.last_result.status is DeploymentStatus.WAITING


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -5}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": 2, "max_poll_interval": 1}, "max_poll_interval"),
        ({"options": WaitOptions(budget_share=0.5), "poll_factor": 0}, "poll_factor"),
        ({"poll_jitter": 2}, "poll_jitter"),
    ],
)
async def test_bad_options_fail_before_any_request(
    fake: FakeSevalla, client: SevallaClient, options: dict[str, object], field: str
) -> None:
    app, dep = new_deployment(fake, ["success"])
    with pytest.raises(ValueError, match=f"^{field}:"):
        await client.deployments.wait(app, dep, **options)  # type: ignore[arg-type]
    assert fake.requests == []

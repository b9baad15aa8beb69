"""Budget-aware polling: the waits of one client share a part of the read budget, spread
evenly, never faster than the floor; in virtual time (FakeClock), against the fake with the
API's real read limit of 400 a minute."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import uuid
from collections import defaultdict

import pytest

from sevalla_async import APITimeoutError, Deployment, SevallaClient, WaitOptions
from sevalla_async.testing import FakeClock, FakeSevalla, RateLimit

API_READS = pytest.mark.sevalla_fake(read_limit=RateLimit(400))


class Polls:
    """An ``on_poll`` hook that notes when each deployment was polled."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.times: dict[uuid.UUID, list[float]] = defaultdict(list)

    def __call__(self, deployment: Deployment) -> None:
        self.times[deployment.id].append(self.clock())

    def all(self) -> list[float]:
        return sorted(t for times in self.times.values() for t in times)

    def busiest_minute(self) -> int:
        """The most polls in any 60 s window (starting at a poll). Turns are 60 / rate
        apart, added up in floating point: a poll 60 s after another (but for a rounding
        error) falls in the next window."""
        times = self.all()
        end = 60 - 1e-6
        return max(sum(1 for t in times[i:] if t < start + end) for i, start in enumerate(times))


def finishing(
    fake: FakeSevalla, clock: FakeClock, after: float
) -> tuple[uuid.UUID, uuid.UUID, float]:
    """A deployment that turns ``success`` ``after`` seconds from now: (app, id, when)."""
    app = fake.add_app(deployed=False)
    dep = fake.add_deployment(app, script=["inProgress", "success"], every=after)
    return app, dep.id, clock() + after


async def delays(
    client: SevallaClient, fake: FakeSevalla, clock: FakeClock, ends: list[float], **options: object
) -> list[float]:
    """Wait for deployments ending ``ends`` seconds from now, all at once; each one's delay
    from its end to its wait returning."""
    made = [finishing(fake, clock, after) for after in ends]

    async def one(app: uuid.UUID, dep: uuid.UUID, end: float) -> float:
        await client.deployments.wait(app, dep, **options)  # type: ignore[arg-type]
        return clock() - end

    return list(await asyncio.gather(*(one(*m) for m in made)))


@API_READS
async def test_a_few_waits_see_the_end_about_a_second_later(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    seen = await delays(client, fake, clock, [30.25, 95.5, 180.75])
    assert all(0 <= d <= 1.5 for d in seen), seen  # the floor is 1 s (+10 % jitter)
    # 0.1 polled every 15 s by then: a deployment ending after 3 minutes was seen ~7.5 s late


@API_READS
async def test_the_floor_holds_between_two_polls_of_one_deployment(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    polls = Polls(clock)
    await delays(client, fake, clock, [20, 21, 22], on_poll=polls)
    await delays(client, fake, clock, [20], on_poll=polls, poll_interval=3.0)
    for times in polls.times.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps
        assert min(gaps) >= 1.0 - 1e-9
    last = list(polls.times.values())[-1]
    assert min(b - a for a, b in itertools.pairwise(last)) >= 3.0 - 1e-9


@API_READS
async def test_many_waits_stay_within_the_share_of_the_read_budget(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    polls = Polls(clock)
    ends = [60.0 + 4 * i for i in range(40)]
    seen = await delays(client, fake, clock, ends, on_poll=polls)
    assert polls.busiest_minute() <= 200  # half of the 400 reads a minute
    assert polls.busiest_minute() >= 190  # ... and the share is actually used
    assert all(r.status == 200 for r in fake.requests)  # never a 429
    # 40 waits at 200 polls a minute: each deployment about every 12 s, not every second
    assert 2 < statistics.mean(seen) < 12


@API_READS
async def test_the_share_is_an_option(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    polls = Polls(clock)
    quarter = WaitOptions(budget_share=0.25)
    await delays(client, fake, clock, [90.0] * 20, on_poll=polls, options=quarter)
    assert 90 <= polls.busiest_minute() <= 100


@pytest.mark.sevalla_fake(read_limit=RateLimit(1000))
async def test_the_share_follows_the_learned_limit(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    polls = Polls(clock)
    await delays(client, fake, clock, [90.0] * 20, on_poll=polls)
    assert 450 <= polls.busiest_minute() <= 500  # half of 1,000


@API_READS
async def test_max_polls_per_minute_caps_the_share(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    client.deployments.max_polls_per_minute = 60
    polls = Polls(clock)
    await delays(client, fake, clock, [90.0] * 20, on_poll=polls)
    assert 55 <= polls.busiest_minute() <= 60


@API_READS
async def test_waits_that_finish_leave_their_share_to_the_others(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    polls = Polls(clock)
    # 99 end quickly; the last one then has the budget to itself
    seen = await delays(client, fake, clock, [10.0] * 39 + [300.0], on_poll=polls)
    assert seen[-1] <= 1.5
    last = list(polls.times.values())[-1]
    assert last[-1] - last[-2] <= 1.1


@API_READS
async def test_the_deadline_still_holds_under_a_busy_budget(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    polls = Polls(clock)
    start = clock()
    made = [finishing(fake, clock, 3600) for _ in range(50)]
    results = await asyncio.gather(
        *(client.deployments.wait(a, d, timeout=10, on_poll=polls) for a, d, _ in made),
        return_exceptions=True,
    )
    assert all(isinstance(r, APITimeoutError) for r in results)
    assert clock() - start <= 10
    assert polls.all()[-1] < start + 10  # no poll past the deadline
    # one poll every 0.3 s: the first 34 got a turn before the deadline, the rest gave up
    assert 33 <= len(polls.times) <= 34

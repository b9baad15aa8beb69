"""Benchmark: how soon a wait sees a finished deployment, and what it spends of the read
budget, for 3, 50 and 1,000 concurrent waits, in virtual time (nothing waits for real).

    python benchmarks/bench_wait.py            # the full run (well under a minute)
    python benchmarks/bench_wait.py --quick    # a smoke run (seconds; figures mean little)

Each deployment of FakeSevalla (in memory, with the API's read limit of 400 a minute)
turns ``success`` at a known time, drawn uniformly from a range (seeded); the detection
delay is the time from there to its wait returning. Variants:

- *fixed 5 s poller*: ``deployments.get`` every 5 s per deployment, as Sevalla's GitHub
  Action does (its reads still go through the client, which holds them when the API's
  budget is spent);
- *SDK wait*: ``deployments.wait`` with the default options (half of the read budget);
- *SDK wait, budget_share=1*: the same spending the whole read budget;
- *read budget limit*: what any poller spending all 400 reads a minute evenly (and not
  more than once a second per deployment) gets, computed: each deployment polled every
  ``max(1, 60 * n / 400)`` seconds, its end seen half an interval later on average.

See benchmarks/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import math
import random
import statistics
import sys
import uuid
from collections.abc import Callable, Sequence

import attrs
from _windows import busiest_minute

from sevalla_async import SevallaClient, WaitOptions
from sevalla_async.testing import FakeSevalla, RateLimit

READ_LIMIT = 400
FLOOR = 1.0


class VirtualClock:
    """Virtual time for many sleepers: the contract of ``sevalla_async.testing.FakeClock``
    (sleepers wake in the order of their wake-up times, not while ``busy()``), with one heap
    and one driver task instead of every sleeper checking every other one, so 1,000 waits
    cost O(log n) per wake-up rather than O(n^2)."""

    def __init__(self, busy: Callable[[], bool], start: float = 1000.0) -> None:
        self.now = start
        self._busy = busy
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (self.now + max(0.0, seconds), next(self._order), future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        await future

    async def _drive(self) -> None:
        while self._heap:
            for _ in range(3):  # let the tasks woken last run up to their next await
                await asyncio.sleep(0)
            if self._busy():
                await asyncio.sleep(0.0002)  # real I/O under way finishes first
                continue
            when, _, future = heapq.heappop(self._heap)
            if future.done():  # its sleeper was cancelled
                continue
            self.now = max(self.now, when)
            future.set_result(None)

    async def aclose(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)


@attrs.frozen
class Result:
    delays: list[float]
    reads: int
    busiest_minute: int
    span: float  # seconds from the start to the last wait returning

    @property
    def mean(self) -> float:
        return statistics.fmean(self.delays)

    @property
    def p95(self) -> float:
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


async def run(variant: str, ends: Sequence[float]) -> Result:
    """Wait for ``len(ends)`` deployments ending ``ends`` seconds after the start."""
    # The fake is served in memory: no request is ever on a wire, so virtual time is exact.
    clock = VirtualClock(lambda: False)
    reads: list[float] = []

    def note(_: object) -> None:
        reads.append(clock())

    fake = FakeSevalla(read_limit=RateLimit(READ_LIMIT), clock=clock)
    # No per-call timeout: a read held for the budget's reset waits for it (the fixed
    # poller overspends the budget with many waits).
    client = SevallaClient(
        fake.api_key, transport=fake.transport(), timeout=None, sleep=clock.sleep, clock=clock
    )
    async with client:
        start = clock()
        made = []
        for after in ends:
            app = fake.add_app(deployed=False)
            dep = fake.add_deployment(app, script=["inProgress", "success"], every=after)
            made.append((app, dep.id, start + after))

        async def fixed(app: uuid.UUID, dep: uuid.UUID, end: float) -> float:
            while True:
                deployment = await client.deployments.get(app, dep)
                note(deployment)
                if deployment.is_finished:
                    return clock() - end
                await clock.sleep(5.0)

        options = WaitOptions(budget_share=1.0 if variant == "sdk_full" else 0.5)

        async def sdk(app: uuid.UUID, dep: uuid.UUID, end: float) -> float:
            await client.deployments.wait(app, dep, timeout=None, options=options, on_poll=note)
            return clock() - end

        work = fixed if variant == "fixed5" else sdk
        delays = await asyncio.gather(*(work(*m) for m in made))
        span = clock() - start
    await clock.aclose()
    return Result(list(delays), len(reads), busiest_minute(reads), span)


def theory(ends: Sequence[float]) -> Result:
    """The read budget's limit: all 400 reads a minute spread evenly, at most one a second
    per deployment (an ideal poller with its phase uniform over the interval)."""
    interval = max(FLOOR, 60.0 * len(ends) / READ_LIMIT)
    delays = [interval * (i + 0.5) / 1000 for i in range(1000)]  # uniform over [0, interval]
    reads = round(READ_LIMIT if interval > FLOOR else 60 * len(ends) / FLOOR)
    return Result(delays, 0, reads, max(ends) + interval / 2)


LABELS = {
    "fixed5": "fixed 5 s poller (GitHub Action)",
    "sdk": "SDK wait (budget_share=0.5)",
    "sdk_full": "SDK wait (budget_share=1)",
    "theory": "read budget limit (computed)",
}


def table(n: int, results: dict[str, Result], low: float, high: float) -> list[str]:
    share = 0.5 * READ_LIMIT
    lines = [
        f"#### {n} concurrent waits, deployments ending {low:.0f}-{high:.0f} s after the start",
        "",
        "| variant                          | delay mean s | delay p95 s | busiest minute reads "
        "| whole wait s | mean / limit |",
        "|----------------------------------|--------------|-------------|----------------------"
        "|--------------|--------------|",
    ]
    limit = results["theory"].mean
    for key, r in results.items():
        lines.append(
            f"| {LABELS[key]:<32} | {r.mean:>12.1f} | {r.p95:>11.1f} | {r.busiest_minute:>20} "
            f"| {r.span:>12.0f} | {r.mean / limit:>12.2f} |"
        )
    sdk = results["sdk"]
    verdict = "within" if sdk.busiest_minute <= share else "OVER"
    lines += [
        "",
        f"SDK reads: busiest minute {sdk.busiest_minute} of the configured share "
        f"{share:.0f} (0.5 x {READ_LIMIT}): {verdict}; {sdk.reads} reads in all.",
        "",
    ]
    return lines


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small counts and short waits")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--counts", type=int, nargs="+", help="concurrent waits (3 50 1000)")
    args = parser.parse_args(argv)
    counts = args.counts or ([3, 10, 40] if args.quick else [3, 50, 1000])
    low, high = (20.0, 60.0) if args.quick else (60.0, 600.0)
    print(f"## Detection delay: virtual time, fake read limit {READ_LIMIT} a minute\n")
    for n in counts:
        rand = random.Random(args.seed + n)
        ends = [rand.uniform(low, high) for _ in range(n)]
        results = {key: await run(key, ends) for key in ("fixed5", "sdk", "sdk_full")}
        results["theory"] = theory(ends)
        print("\n".join(table(n, results, low, high)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

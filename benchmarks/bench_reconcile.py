"""What reconciliation costs: reads per ambiguous promotion and the time it adds, against
the settle period.

Against FakeSevalla served in memory with a FakeClock, so the times are *virtual* seconds
(what a real run would wait), measured per promotion (one at a time). The baseline is the
same promotion without a fault (no reads, no added time), measured in the same run.

    python benchmarks/bench_reconcile.py             # 40 promotions per cell
    python benchmarks/bench_reconcile.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys

from _fake_client import fake_client

from sevalla_async.testing import FakeClock, FakeSevalla, Fault

CASES = {
    "no fault (baseline)": None,
    "acted, then 500": lambda: Fault.act_then_fail("error"),
    "acted 20 s late, then drop": lambda: Fault.act_then_fail("disconnect", late=20),
    "did not act, 500": lambda: Fault.fail_without_acting("error"),
}


async def cell(case: str, settle: float, count: int, targets: int) -> tuple[float, float]:
    clock = FakeClock()
    async with FakeSevalla(clock=clock) as fake:
        plan = fake.promote_requests(count, targets=targets)
        async with fake_client(fake, clock) as client:
            reads: list[int] = []
            added: list[float] = []
            for request in plan:
                factory = CASES[case]
                if factory is not None:
                    fake.inject(factory(), method="POST")
                gets = len(fake.requests_to("GET"))
                start = clock()
                await client.pipelines.promote_request(
                    request, reconcile=True, reconcile_settle=settle
                )
                added.append(clock() - start)
                reads.append(len(fake.requests_to("GET")) - gets)
                clock.advance(600)  # the next promotion's window is clear of this one
    return statistics.mean(reads), statistics.mean(added)


async def main_async(count: int, settles: list[float], targets: int) -> None:
    print(f"## Reconciliation cost ({count} promotions of {targets} targets per cell)\n")
    print("| case | settle (s) | reads / promotion | added time (virtual s) | added / settle |")
    print("|---|---|---|---|---|")
    for settle in settles:
        for case in CASES:
            reads, added = await cell(case, settle, count, targets)
            print(f"| {case} | {settle:g} | {reads:.1f} | {added:.1f} | {added / settle:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--targets", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 3 if args.quick else args.count
    settles = [60.0] if args.quick else [30.0, 60.0, 120.0]
    asyncio.run(main_async(count, settles, args.targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())

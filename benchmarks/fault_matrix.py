"""Fault matrix: many promotions, a share of them hit by ambiguous faults of every kind,
``reconcile=True`` -> every target promoted exactly once, nothing left ``unknown``.

Runs against FakeSevalla served in memory (``fake.transport()``) with a FakeClock, so every
wait, stall and timeout is virtual and exact. (Over loopback, virtual time could jump while
a request sat in the client's connection machinery, before the fake saw it: the request
then arrived "minutes" after its ``sent_at``, which no real network does, and a late
promotion fell outside the reconciliation window.)
with a server clock skew and unrelated deployments (a git push's automatic deploy of the same
build, a person's manual deploy of another build) landing on targets during the run.

    python benchmarks/fault_matrix.py                    # 2,000 promotions, 30 % faults
    python benchmarks/fault_matrix.py --requests 200     # quicker

Exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from _fake_client import fake_client

from sevalla_async import PromotionState
from sevalla_async.testing import FakeClock, FakeSevalla, Fault
from sevalla_async.testing._clock import WALL_EPOCH

KINDS = {
    "act+500": lambda r, rng: Fault.act_then_fail("error"),
    "act-subset+502": lambda r, rng: Fault.act_then_fail(
        "error", status=502, targets=rng.sample(list(r.target_app_ids), k=1)
    ),
    "act+drop": lambda r, rng: Fault.act_then_fail("disconnect"),
    "act+stall": lambda r, rng: Fault.act_then_fail("stall", stall=2.5),
    "act-late+500": lambda r, rng: Fault.act_then_fail("error", late=rng.uniform(5, 60)),
    "act-late-subset+drop": lambda r, rng: Fault.act_then_fail(
        "disconnect", targets=rng.sample(list(r.target_app_ids), k=1), late=rng.uniform(5, 60)
    ),
    "no-act+500": lambda r, rng: Fault.fail_without_acting("error"),
    "no-act+drop": lambda r, rng: Fault.fail_without_acting("disconnect"),
    "no-act+stall": lambda r, rng: Fault.fail_without_acting("stall", stall=2.5),
}


def _explain(
    fake: FakeSevalla, request: Any, target: uuid.UUID, kind: str | None, outcome: Any
) -> None:
    print(f"target {target} of pipeline {request.pipeline_id} (fault: {kind}):")
    for d in sorted(fake.state.deployments.values(), key=lambda d: d.created_at):
        if d.app_id == target:
            born = datetime.fromtimestamp(WALL_EPOCH + d.born + fake.clock_skew, timezone.utc)
            print(f"  {d.created_at.isoformat()} (born {born.isoformat()}) {d.type} {d.trigger}")
    for r in fake.requests_to("POST", f"/pipelines/{request.pipeline_id}/promote"):
        print(f"  POST {r.json()} -> {r.status}")
    print(f"  outcome: {outcome.state} sent_at={outcome.sent_at} error={outcome.error!r}")


async def run(requests: int, share: float, seed: int, skew: float, targets: int) -> int:
    rng = random.Random(seed)
    clock = FakeClock()
    async with FakeSevalla(clock=clock, skew=skew) as fake:
        plan = fake.promote_requests(requests, targets=targets)
        kinds: dict[uuid.UUID, str] = {}
        for request in plan:
            if rng.random() < share:
                kind = rng.choice(sorted(KINDS))
                kinds[request.pipeline_id] = kind
                path = f"/pipelines/{request.pipeline_id}/promote"
                fake.inject(KINDS[kind](request, rng), method="POST", path=path)
            if rng.random() < 0.1:  # a git push deploys the same build on a target
                fake.deploy(
                    rng.choice(request.target_app_ids),
                    build_of=request.source_app_id,
                    automatic=True,
                    late=rng.uniform(0, 60),
                )
            if rng.random() < 0.1:  # a person deploys another build on a target
                fake.deploy(rng.choice(request.target_app_ids), late=rng.uniform(0, 60))
        started = time.perf_counter()
        # timeout: 2 (virtual) seconds per call, so a stall of 2.5 s outlasts it
        async with fake_client(fake, clock, timeout=2.0, max_retries=5) as client:
            virtual0 = clock()
            outcomes = await client.pipelines.promote_many(plan, concurrency=32, reconcile=True)
            virtual = clock() - virtual0
        real = time.perf_counter() - started

        states = collections.Counter(o.state.value for o in outcomes)
        made: collections.Counter[uuid.UUID] = collections.Counter(
            d.app_id for d in fake.state.deployments.values() if d.trigger == "PROMOTION"
        )
        made_ids = {d.id for d in fake.state.deployments.values() if d.trigger == "PROMOTION"}
        twice = never = wrong_id = 0
        for request, outcome in zip(plan, outcomes, strict=True):
            for target in request.target_app_ids:
                count = made[target]
                twice += count > 1
                never += count == 0
                if count != 1:  # say what happened, to find out why
                    _explain(fake, request, target, kinds.get(request.pipeline_id), outcome)
            for promotion in outcome.promotions or []:
                wrong_id += promotion.deployment_id not in made_ids
        fired = collections.Counter(kinds.values())
        posts = len(fake.requests_to("POST", "/promote"))
        reads = len(fake.requests_to("GET"))
        total_targets = sum(len(r.target_app_ids) for r in plan)

    print(f"promotions: {requests} ({total_targets} targets), server clock skew {skew:+g} s")
    print(f"ambiguous faults scripted: {sum(fired.values())} ({share:.0%})")
    for kind in sorted(fired):
        print(f"  {kind:22s} {fired[kind]}")
    print(f"outcome states: {dict(sorted(states.items()))}")
    print(f"POSTs: {posts} (re-promotions: {posts - requests}), GETs (reconcile reads): {reads}")
    print(
        f"targets promoted twice: {twice}, never: {never}, "
        f"outcome ids not made by a promotion: {wrong_id}"
    )
    print(f"virtual time: {virtual:.0f} s; real time: {real:.1f} s")
    ok = (
        twice == 0
        and never == 0
        and wrong_id == 0
        and states.get(PromotionState.PROMOTED.value, 0) == requests
    )
    print("RESULT:", "every target promoted exactly once, no unknown left" if ok else "FAILED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--skew", type=float, default=437.0)
    parser.add_argument("--targets", type=int, default=2)
    args = parser.parse_args()
    return asyncio.run(run(args.requests, args.share, args.seed, args.skew, args.targets))


if __name__ == "__main__":
    sys.exit(main())

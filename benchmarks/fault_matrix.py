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

Besides those, the 0.3 faults: the re-send of the missing targets refused by 429s past
every retry (``act-subset+500+resend-429``), a ``Date`` header an hour off on some targets'
reads only (``--lying``, the share of target apps) and deployment lists served oldest
first for some apps (``--oldest``), and the whole fan-out cancelled part way
(``--cancel-at``, the share of entries done): every entry of its ledger is then finished
from its per-target record (``pipelines.resume``), as a resumed journal does, and every
entry never read is sent.

Exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from sevalla_async import (
    FanoutLedger,
    FanoutProgress,
    PromoteOutcome,
    PromotionState,
    SevallaClient,
    SevallaError,
    TransportRequest,
    TransportResponse,
)
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
    "act-subset+500+resend-429": lambda r, rng: Fault.act_then_fail(
        "error", targets=rng.sample(list(r.target_app_ids), k=1)
    ),
}
RESEND_REFUSED = "act-subset+500+resend-429"  # then 429s past every retry on the re-send


class Hostile:
    """The in-memory transport with two lies: a ``Date`` an hour ahead on the deployment
    reads of the apps in ``lying`` (a stale cache in front of them), and the deployment
    lists of the apps in ``oldest`` served oldest first."""

    def __init__(self, inner: Any, lying: set[str], oldest: set[str]) -> None:
        self._inner, self._lying, self._oldest = inner, lying, oldest

    async def send(self, request: TransportRequest) -> TransportResponse:
        reply = await self._inner.send(request)
        if request.method != "GET" or "/deployments" not in request.url:
            return reply
        app = request.url.split("/applications/")[-1].split("/")[0]
        headers = CIMultiDict(reply.headers)
        body = reply.body
        if app in self._lying and "date" in headers:
            moment = parsedate_to_datetime(headers["date"]) + timedelta(hours=1)
            headers["Date"] = format_datetime(moment, usegmt=True)
        if app in self._oldest and reply.status == 200:
            page = json.loads(body)
            page["data"] = list(reversed(page["data"]))
            body = json.dumps(page).encode()
        return TransportResponse(reply.status, CIMultiDictProxy(headers), body)

    async def aclose(self) -> None:
        await self._inner.aclose()


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


async def run(
    requests: int,
    share: float,
    seed: int,
    skew: float,
    targets: int,
    lying_share: float,
    oldest_share: float,
    cancel_at: float,
) -> int:
    rng = random.Random(seed)
    clock = FakeClock()
    async with FakeSevalla(clock=clock, skew=skew) as fake:
        plan = fake.promote_requests(requests, targets=targets)
        kinds: dict[uuid.UUID, str] = {}
        lying: set[str] = set()
        oldest: set[str] = set()
        for request in plan:
            if rng.random() < share:
                kind = rng.choice(sorted(KINDS))
                kinds[request.pipeline_id] = kind
                path = f"/pipelines/{request.pipeline_id}/promote"
                fake.inject(KINDS[kind](request, rng), method="POST", path=path)
                if kind == RESEND_REFUSED:  # 1 + max_retries attempts, all 429
                    fake.inject(Fault.rate_limited(1), times=6, method="POST", path=path)
            for app in request.target_app_ids:
                if rng.random() < lying_share:
                    lying.add(str(app))
                if rng.random() < oldest_share:
                    oldest.add(str(app))
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
        async with SevallaClient(
            fake.api_key,
            transport=Hostile(fake.transport(), lying, oldest),
            sleep=clock.sleep,
            clock=clock,
            wall_clock=clock.wall,
            timeout=2.0,
            max_retries=5,
        ) as client:
            virtual0 = clock()
            outcomes, resumed = await _run_and_resume(client, plan, cancel_at, clock.sleep)
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
    print(f"apps with a lying Date: {len(lying)}, served oldest first: {len(oldest)}")
    print(f"entries resumed from their record after the cancel: {resumed}")
    print(f"POSTs: {posts} (re-promotions: {posts - requests}), GETs (reconcile reads): {reads}")
    unknown = states.get(PromotionState.UNKNOWN.value, 0)
    print(
        f"targets promoted twice: {twice}, never: {never}, unknown left: {unknown}, "
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


async def _run_and_resume(
    client: SevallaClient, plan: list[Any], cancel_at: float, sleep: Any
) -> tuple[list[PromoteOutcome], int]:
    """The fan-out, cancelled once ``cancel_at`` of its entries are done (1: never), then
    every entry not ``promoted`` finished from its per-target record as a resumed journal
    would (an entry never read: every target ``not_sent``), again while the API refuses
    it for now (429). The final outcome of every entry, and how many entries were
    resumed."""
    ledger = FanoutLedger()
    task: asyncio.Task[Any] | None = None

    def progress(p: FanoutProgress) -> None:
        if task is not None and p.done >= cancel_at * len(plan):
            task.cancel()

    on_progress = progress if cancel_at < 1 else None
    task = asyncio.ensure_future(
        client.pipelines.promote_many(
            plan, concurrency=32, reconcile=True, ledger=ledger, on_progress=on_progress
        )
    )
    with contextlib.suppress(asyncio.CancelledError):
        await task
    final = {o.index: o for o in ledger.outcomes}
    for i in range(len(plan)):  # never read: every target not sent
        final.setdefault(i, PromoteOutcome(plan[i], None, None, i, False))
    again = [o for o in final.values() if o.state is not PromotionState.PROMOTED]
    gate = asyncio.Semaphore(8)
    patient = client.with_options(timeout=60.0)  # a resume may queue for the write budget

    async def resume(outcome: PromoteOutcome) -> None:
        request = plan[outcome.index]
        async with gate:
            try:
                made = await patient.pipelines.resume(request, outcome.targets)
            except SevallaError as exc:
                targets = getattr(exc, "targets", None)
                final[outcome.index] = PromoteOutcome(
                    request, None, exc, outcome.index, per_target=targets
                )
                return
        final[outcome.index] = PromoteOutcome(request, made, None, outcome.index)

    resumed = len(again)
    for _ in range(100):  # a resume refused for now (a 429) is run again, as a user would
        await asyncio.gather(*(resume(o) for o in again))
        again = [o for o in again if final[o.index].state is PromotionState.NOT_SENT]
        if not again:
            break
        again = [final[o.index] for o in again]
        await sleep(2.0)  # virtual: the rate-limit budget resets
    return [final[i] for i in range(len(plan))], resumed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--skew", type=float, default=437.0)
    parser.add_argument("--targets", type=int, default=2)
    parser.add_argument("--lying", type=float, default=0.0, help="share of apps whose reads lie")
    parser.add_argument("--oldest", type=float, default=0.05, help="share listed oldest first")
    parser.add_argument("--cancel-at", type=float, default=0.5, help="1: never cancel")
    args = parser.parse_args()
    return asyncio.run(
        run(
            args.requests,
            args.share,
            args.seed,
            args.skew,
            args.targets,
            args.lying,
            args.oldest,
            args.cancel_at,
        )
    )


if __name__ == "__main__":
    sys.exit(main())

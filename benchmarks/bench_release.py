"""Benchmark: what pinning the source's build and skipping current targets cost a release,
in reads and in wall time, and what a re-run of a finished release sends. Virtual time:
nothing waits for real.

    python benchmarks/bench_release.py            # 3 waves x 20 targets (seconds)
    python benchmarks/bench_release.py --quick    # 3 waves x 4 targets (smoke run)
    python benchmarks/bench_release.py --targets 40 --deploy-seconds 300

A release of 3 waves, each promoting ``--targets`` apps from 4 staging apps (4 pipelines,
the same sources in every wave), on :class:`FakeSevalla` in memory with the API's read
budget (400 GETs a minute) and a write budget (10 a minute), every reply ``--latency``
seconds late and every deployment taking ``--deploy-seconds`` (``waiting``, ``inProgress``,
``success`` in equal steps). Variants, each on a fresh fake with the same layout:

- *0.2 (no pin, no skip)*: ``releases.run(..., pin_build=False, skip_current=False)``, the
  baseline;
- *0.3 default (pinned, skip current)*: ``releases.run(...)``;
- *re-run, 0.3 default*: the same release run again on the fake the last one finished on
  (a CI job retried without a journal): it must send no POST;
- *re-run, 0.2*: the same with ``pin_build=False, skip_current=False``, for comparison.

Reads are counted at the transport, split into build reads (deployment lists: pins, the
targets' current builds, the moved-build checks) and polls (one deployment each). The
*busiest minute* is the most GETs in any 60 s window of virtual time. *Added time* is the
release's virtual wall time against the baseline's, measured in the same run.

See benchmarks/README.md for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import attrs
from _windows import busiest_minute

from sevalla_async import (
    PromoteRequest,
    ReleaseReport,
    SevallaClient,
    TransportRequest,
    TransportResponse,
)
from sevalla_async.testing import FakeClock, FakeSevalla, RateLimit

READ_LIMIT = 400
WRITE_LIMIT = 10
WAVES = 3
SOURCES = 4


class Counting:
    """The fake's in-memory transport, noting when each GET was sent and what it read."""

    def __init__(self, fake: FakeSevalla, clock: FakeClock) -> None:
        self._inner = fake.transport()
        self._clock = clock
        self.lists: list[float] = []  # deployment lists: builds and histories
        self.polls: list[float] = []  # one deployment

    async def send(self, request: TransportRequest) -> TransportResponse:
        if request.method == "GET":
            path = request.url.split("?")[0]
            (self.lists if path.endswith("/deployments") else self.polls).append(self._clock())
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@attrs.frozen
class Result:
    posts: int
    deployments: int  # promotions that started a deployment
    build_reads: int
    polls: int
    busiest_minute: int
    seconds: float
    completed: bool

    @property
    def reads(self) -> int:
        return self.build_reads + self.polls


def layout(fake: FakeSevalla, targets: int) -> list[list[PromoteRequest]]:
    """3 waves of ``targets`` apps each, from 4 staging apps (one per pipeline)."""
    per_source = targets // SOURCES
    pipelines = fake.promote_requests(SOURCES, targets=per_source * WAVES)
    return [
        [
            PromoteRequest(
                p.pipeline_id,
                p.source_app_id,
                list(p.target_app_ids[w * per_source : (w + 1) * per_source]),
            )
            for p in pipelines
        ]
        for w in range(WAVES)
    ]


async def release(
    fake: FakeSevalla, clock: FakeClock, waves: list[list[PromoteRequest]], *, pinned: bool
) -> Result:
    transport = Counting(fake, clock)
    posts_before = len(fake.requests_to("POST", "/promote"))
    start = clock()
    async with SevallaClient(
        fake.api_key, transport=transport, sleep=clock.sleep, clock=clock
    ) as client:
        report: ReleaseReport = await client.releases.run(
            waves, wait_timeout=3600, pin_build=pinned, skip_current=pinned
        )
    started = sum(
        1
        for w in report.waves
        for o in w.outcomes
        for p in o.promotions or ()
        if not p.already_current
    )
    return Result(
        posts=len(fake.requests_to("POST", "/promote")) - posts_before,
        deployments=started,
        build_reads=len(transport.lists),
        polls=len(transport.polls),
        busiest_minute=busiest_minute(transport.lists + transport.polls),
        seconds=clock() - start,
        completed=report.completed,
    )


def fresh(latency: float, deploy_seconds: float) -> tuple[FakeSevalla, FakeClock]:
    clock = FakeClock()
    fake = FakeSevalla(
        clock=clock,
        read_limit=RateLimit(READ_LIMIT),
        write_limit=RateLimit(WRITE_LIMIT),
        latency=latency,
    )
    fake.script_deployments(["waiting", "inProgress", "success"], every=deploy_seconds / 2)
    return fake, clock


async def measure(targets: int, latency: float, deploy_seconds: float) -> dict[str, Result]:
    results: dict[str, Result] = {}
    fake, clock = fresh(latency, deploy_seconds)
    results["0.2"] = await release(fake, clock, layout(fake, targets), pinned=False)
    fake, clock = fresh(latency, deploy_seconds)
    waves = layout(fake, targets)
    results["0.3"] = await release(fake, clock, waves, pinned=True)
    results["rerun 0.3"] = await release(fake, clock, waves, pinned=True)
    results["rerun 0.2"] = await release(fake, clock, waves, pinned=False)
    return results


LABELS = {
    "0.2": "0.2 (no pin, no skip): baseline",
    "0.3": "0.3 default (pinned, skip current)",
    "rerun 0.3": "re-run, 0.3 default",
    "rerun 0.2": "re-run, 0.2 (no pin, no skip)",
}


def table(targets: int, results: dict[str, Result], latency: float, deploy: float) -> list[str]:
    base = results["0.2"]
    lines = [
        f"#### {WAVES} waves x {targets} targets ({SOURCES} sources), deployments of "
        f"{deploy:.0f} s, replies {latency:g} s late",
        "",
        "| variant                            | POSTs | deployments | build reads | polls "
        "| busiest minute reads | release s | vs baseline |",
        "|------------------------------------|-------|-------------|-------------|-------"
        "|----------------------|-----------|-------------|",
    ]
    for key, r in results.items():
        lines.append(
            f"| {LABELS[key]:<34} | {r.posts:>5} | {r.deployments:>11} | {r.build_reads:>11} "
            f"| {r.polls:>5} | {r.busiest_minute:>20} | {r.seconds:>9.1f} "
            f"| {r.seconds / base.seconds:>10.3f}x |"
        )
    pinned, rerun = results["0.3"], results["rerun 0.3"]
    added = 100 * (pinned.seconds - base.seconds) / base.seconds
    extra = pinned.build_reads - base.build_reads
    verdict = "within" if max(r.busiest_minute for r in results.values()) <= READ_LIMIT else "OVER"
    lines += [
        "",
        f"Pinned + skip-current: {extra:+d} build reads ({pinned.build_reads} against "
        f"{base.build_reads}), busiest minute {pinned.busiest_minute} of the read budget "
        f"{READ_LIMIT} ({verdict}); added wall time {added:+.2f} % of the release "
        f"({pinned.seconds - base.seconds:+.1f} s over {base.seconds:.1f} s; target under 5 %).",
        f"Re-run of the finished release: {rerun.posts} POSTs, {rerun.deployments} "
        f"deployments, {rerun.reads} reads in {rerun.seconds:.1f} s "
        f"(0.2 re-run: {results['rerun 0.2'].posts} POSTs, "
        f"{results['rerun 0.2'].deployments} deployments, {results['rerun 0.2'].seconds:.1f} s).",
        "",
    ]
    return lines


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="4 targets a wave (smoke run)")
    parser.add_argument("--targets", type=int, default=20, help="targets per wave (20)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per reply (0.2)")
    parser.add_argument(
        "--deploy-seconds", type=float, default=120.0, help="each deployment's length (120)"
    )
    args = parser.parse_args(argv)
    targets = 4 if args.quick else args.targets
    if targets % SOURCES:
        parser.error(f"--targets: a multiple of {SOURCES} (the sources), got {targets}")
    print(f"## Pinned release: virtual time, read budget {READ_LIMIT} a minute\n")
    results = await measure(targets, args.latency, args.deploy_seconds)
    print("\n".join(table(targets, results, args.latency, args.deploy_seconds)), flush=True)
    return 0 if all(r.completed for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

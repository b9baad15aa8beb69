"""Benchmark: sevalla-async's promote and fan-out against raw aiohttp, on a local fake API.

    python benchmarks/bench_promote.py            # the full run (a few minutes)
    python benchmarks/bench_promote.py --quick    # a smoke run (seconds)

FakeSevalla runs in its own process (benchmarks/_fake_server_proc.py); every client
workload runs in a fresh process (benchmarks/_workloads.py), so its CPU time
(``time.process_time``) and peak RSS are its own. The variants alternate, round after
round, and the table shows medians. See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
SERVER = HERE / "_fake_server_proc.py"
WORKLOADS = HERE / "_workloads.py"
BATCH_VARIANTS = ("floor", "contract", "sdk_gather", "promote_many")
IMPORTS = ("import_aiohttp", "import_sdk")
LABELS = {
    "floor": "raw aiohttp + json.loads (floor)",
    "contract": "floor + the contract's own work",
    "sdk_gather": "SDK promote, gather + semaphore",
    "promote_many": "SDK promote_many",
    "floor_stream": "raw aiohttp, N workers (floor)",
    "promote_iter": "SDK promote_iter",
}


class FakeServer:
    """A FakeSevalla process: seeded pipelines, a plan file, and a stats channel."""

    def __init__(
        self, pipelines: int, targets: int, plan: Path, limit: tuple[int, float] | None = None
    ) -> None:
        command = [
            sys.executable,
            str(SERVER),
            "--pipelines",
            str(pipelines),
            "--targets",
            str(targets),
            "--plan",
            str(plan),
        ]
        if limit is not None:
            command += ["--write-limit", str(limit[0]), "--window", str(limit[1])]
        self.plan = plan
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env()
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.close()
            raise RuntimeError(f"the fake server did not start: {line!r}")

    def command(self, text: str) -> dict[str, Any]:
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(text + "\n")
        stdin.flush()
        result: dict[str, Any] = json.loads(stdout.readline())
        return result

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.contextmanager
def fake_server(
    pipelines: int, targets: int, workdir: Path, limit: tuple[int, float] | None = None
) -> Iterator[FakeServer]:
    server = FakeServer(pipelines, targets, workdir / f"plan-{pipelines}-{limit}.json", limit)
    try:
        yield server
    finally:
        server.close()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_workloads(jobs: list[tuple[str, ...]], *, parallel: bool) -> list[dict[str, Any]]:
    """Run workload processes in order, or (quick mode) all at once: the figures of a quick
    run mean nothing, it only shows that every part works."""
    if not parallel:
        return [run_workload(*job) for job in jobs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(lambda job: run_workload(*job), jobs))


def run_workload(variant: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(WORKLOADS), variant, *args],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("errors"):
        raise RuntimeError(f"{variant}: {result['errors']} requests failed")
    return result


# --- sections ------------------------------------------------------------------------------


def bench_batch(server: FakeServer, args: argparse.Namespace) -> dict[str, Any]:
    jobs = []
    for round_no in range(args.rounds):
        shift = round_no % len(BATCH_VARIANTS)  # rotate, so no variant always goes first
        for variant in BATCH_VARIANTS[shift:] + BATCH_VARIANTS[:shift]:
            jobs.append(
                (
                    variant,
                    "--plan",
                    str(server.plan),
                    "--requests",
                    str(args.requests),
                    "--concurrency",
                    str(args.concurrency),
                    "--warmup",
                    str(args.warmup),
                )
            )
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in BATCH_VARIANTS}
    for result in run_workloads(jobs, parallel=args.quick):
        runs[result["variant"]].append(result)
    return {variant: _medians(results) for variant, results in runs.items()}


def bench_stream(server: FakeServer, args: argparse.Namespace) -> dict[str, Any]:
    jobs = [
        (
            variant,
            "--plan",
            str(server.plan),
            "--requests",
            str(args.stream_requests),
            "--concurrency",
            str(args.concurrency),
        )
        for variant in ("floor_stream", "promote_iter")
    ]
    return {
        result["variant"]: _medians([result]) | {"rss_kb": result["rss_kb"]}
        for result in run_workloads(jobs, parallel=args.quick)
    }


def time_import(module: str) -> float:
    """Seconds to import ``module`` in a bare interpreter (nothing imported before it but
    ``time``: a workload script would have loaded asyncio & co. already)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    return float(done.stdout)


def bench_import(args: argparse.Namespace) -> dict[str, float]:
    jobs = [variant for _ in range(args.import_rounds) for variant in IMPORTS]
    modules = {"import_aiohttp": "aiohttp", "import_sdk": "sevalla_async"}
    workers = len(jobs) if args.quick else 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        seconds = list(pool.map(lambda job: time_import(modules[job]), jobs))
    times: dict[str, list[float]] = {variant: [] for variant in IMPORTS}
    for job, value in zip(jobs, seconds, strict=True):
        times[job].append(value)
    return {variant: statistics.median(values) for variant, values in times.items()}


def bench_rate_limited(server: FakeServer, args: argparse.Namespace) -> dict[str, Any]:
    from sevalla_async import SevallaClient

    plan = json.loads(server.plan.read_text())
    items = [
        {"pipeline_id": p, "source_app_id": s, "target_app_ids": t}
        for i in range(args.rate_requests)
        for p, s, t in [plan["requests"][i % len(plan["requests"])]]
    ]

    server.command(f"limit {args.rate} {args.window}")

    async def run() -> tuple[float, int]:
        async with SevallaClient(plan["api_key"], base_url=plan["base_url"]) as client:
            server.command("reset")  # the first window starts now
            start = time.perf_counter()
            outcomes = await client.pipelines.promote_many(items, concurrency=args.concurrency)
            wall = time.perf_counter() - start
        return wall, sum(1 for o in outcomes if not o.ok)

    wall, failed = asyncio.run(run())
    stats = server.command("stats")
    statuses = stats["statuses"]
    return {
        "requests": args.rate_requests,
        "limit": args.rate,
        "window": args.window,
        "wall_s": wall,
        "failed": failed,
        "http_requests": sum(statuses.values()),
        "status_429": statuses.get("429", 0),
    }


def _medians(results: list[dict[str, Any]]) -> dict[str, Any]:
    n = results[0]["requests"]
    return {
        "requests": n,
        "runs": len(results),
        "req_per_s": statistics.median(n / r["wall_s"] for r in results),
        "cpu_us": statistics.median(r["cpu_s"] / n * 1e6 for r in results),
        "maxrss_mb": statistics.median(r["maxrss_kb"] / 1024 for r in results),
    }


# --- report --------------------------------------------------------------------------------


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    out = []
    if args.quick:
        out.append(
            "(--quick: a smoke run; the workloads ran side by side, so the figures mean nothing)\n"
        )
    if "batch" in results:
        batch = results["batch"]
        floor = batch["floor"]
        out.append(
            f"## Fan-out: {args.requests} promotions x {args.targets} targets, "
            f"{args.concurrency} in flight, medians of {args.rounds} alternating round(s)\n"
        )
        rows = [["variant", "req/s", "client CPU us/req", "peak RSS MB", "req/s / floor",
                 "CPU / floor"]]  # fmt: skip
        for variant in BATCH_VARIANTS:
            r = batch[variant]
            rows.append(
                [
                    LABELS[variant],
                    f"{r['req_per_s']:.0f}",
                    f"{r['cpu_us']:.0f}",
                    f"{r['maxrss_mb']:.1f}",
                    f"{r['req_per_s'] / floor['req_per_s']:.2f}",
                    f"{r['cpu_us'] / floor['cpu_us']:.2f}",
                ]
            )
        out.append(_table(rows))
    if "stream" in results:
        stream = results["stream"]
        out.append(
            f"\n## Long stream: {args.stream_requests} requests from a lazy generator, "
            f"{args.concurrency} in flight, one fresh process each\n"
        )
        rows = [["variant", "req/s", "client CPU us/req", "peak RSS MB",
                 "RSS MB at start / 10% / 50% / 100%"]]  # fmt: skip
        for variant in ("floor_stream", "promote_iter"):
            r = stream[variant]
            rows.append(
                [
                    LABELS[variant],
                    f"{r['req_per_s']:.0f}",
                    f"{r['cpu_us']:.0f}",
                    f"{r['maxrss_mb']:.1f}",
                    " / ".join(f"{kb / 1024:.1f}" for kb in r["rss_kb"]),
                ]
            )
        out.append(_table(rows))
        extra = stream["promote_iter"]["maxrss_mb"] - stream["floor_stream"]["maxrss_mb"]
        out.append(f"\npromote_iter peak RSS over the floor process: {extra:+.1f} MB")
    if "import" in results:
        imp = results["import"]
        ratio = imp["import_sdk"] / imp["import_aiohttp"]
        out.append(
            f"\n## Import time (median of {args.import_rounds} fresh processes each)\n\n"
            f"`import aiohttp`: {imp['import_aiohttp'] * 1e3:.0f} ms; "
            f"`import sevalla_async`: {imp['import_sdk'] * 1e3:.0f} ms "
            f"({ratio:.2f}x aiohttp)"
        )
    if "rate" in results:
        rate = results["rate"]
        windows = rate["requests"] / rate["limit"]
        minimum = windows * rate["window"]
        strict = (math.ceil(windows) - 1) * rate["window"]
        out.append(
            f"\n## Rate-limited fan-out: {rate['requests']} promotions, the fake allows "
            f"{rate['limit']} writes per {rate['window']:g} s window, "
            f"{args.concurrency} in flight\n\n"
            f"wall {rate['wall_s']:.2f} s; N/R = {windows:g} windows = {minimum:.2f} s "
            f"(ratio {rate['wall_s'] / minimum:.2f}; the last window can start no earlier "
            f"than {strict:.2f} s); HTTP requests {rate['http_requests']}, "
            f"answered 429: {rate['status_429']} "
            f"({100 * rate['status_429'] / rate['http_requests']:.1f} %); "
            f"failed outcomes: {rate['failed']}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark sevalla-async against raw aiohttp.")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--requests", type=int, help="promotions per round (default 2000)")
    parser.add_argument("--targets", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 5)")
    parser.add_argument("--warmup", type=int, help="requests before measuring (default 200)")
    parser.add_argument("--stream-requests", type=int, help="promote_iter run (default 100000)")
    parser.add_argument("--import-rounds", type=int, help="fresh processes (default 15)")
    parser.add_argument("--rate", type=int, help="writes per window (default 200)")
    parser.add_argument("--window", type=float, help="window seconds (default 1.0)")
    parser.add_argument("--rate-requests", type=int, help="rate-limited run (default 1000)")
    parser.add_argument(
        "--only",
        default="batch,stream,import,rate",
        help="comma-separated sections: batch, stream, import, rate",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "requests": (100, 2000),
        "rounds": (1, 5),
        "warmup": (10, 200),
        "stream_requests": (500, 100_000),
        "import_rounds": (1, 15),
        "rate": (50, 200),
        "window": (1.0, 1.0),
        "rate_requests": (100, 1000),
    }
    for name, (small, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    sections = {s.strip() for s in args.only.split(",") if s.strip()}

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sevalla-bench-") as tmp:
        workdir = Path(tmp)
        pipelines = min(max(args.requests, args.rate_requests), 2000)
        if "stream" in sections:  # a pipeline per entry: a stream never repeats a target
            pipelines = max(pipelines, args.stream_requests)
        if sections & {"batch", "stream", "rate"}:
            with fake_server(pipelines, args.targets, workdir) as server:
                if "batch" in sections:
                    results["batch"] = bench_batch(server, args)
                if "stream" in sections:
                    results["stream"] = bench_stream(server, args)
                if "rate" in sections:  # last: it limits the server's writes
                    results["rate"] = bench_rate_limited(server, args)
        if "import" in sections:
            results["import"] = bench_import(args)
    print(report(results, args))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

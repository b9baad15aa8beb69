"""The benchmark scripts run, as their README says, and print every table.

Only a smoke run (``--quick``): the figures are not checked, speed lives in benchmarks/.
"""

from __future__ import annotations

import re

from .helpers import run_script


def quick_run(script: str) -> str:
    """The output of ``benchmarks/<script> --quick``, which must succeed."""
    done = run_script(script, "--quick")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_benchmark_quick_run_prints_its_tables() -> None:
    out = quick_run("bench_promote.py")
    for heading in ("## Fan-out:", "## Long stream:", "## Import time", "## Rate-limited fan-out"):
        assert heading in out
    for row in (
        "raw aiohttp + json.loads (floor)",
        "floor + the contract's own work",
        "SDK promote, gather + semaphore",
        "SDK promote_many",
        "raw aiohttp, N workers (floor)",
        "SDK promote_iter",
    ):
        line = next(line for line in out.splitlines() if line.startswith(f"| {row}"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert all(re.fullmatch(r"[\d.]+( / [\d.]+)*", c) for c in cells[1:]), line
    assert re.search(r"`import sevalla_async`: \d+ ms \([\d.]+x aiohttp\)", out)
    rate = re.search(r"HTTP requests (\d+), answered 429: (\d+) .*failed outcomes: (\d+)", out)
    assert rate is not None
    assert int(rate.group(3)) == 0  # every promotion of the rate-limited run succeeded


def test_the_wait_benchmark_quick_run_prints_its_tables() -> None:
    out = quick_run("bench_wait.py")
    assert "## Detection delay" in out
    for count in (3, 10, 40):
        assert f"#### {count} concurrent waits" in out
    for row in (
        "fixed 5 s poller",
        "SDK wait (budget_share=0.5)",
        "SDK wait (budget_share=1)",
        "read budget limit",
    ):
        lines = [line for line in out.splitlines() if line.startswith(f"| {row}")]
        assert len(lines) == 3, row
        for line in lines:
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert all(re.fullmatch(r"[\d.]+", c) for c in cells[1:]), line
    assert len(re.findall(r"of the configured share 200 \(0\.5 x 400\): within", out)) == 3


def test_the_release_benchmark_quick_run_prints_its_table() -> None:
    out = quick_run("bench_release.py")
    assert "#### 3 waves x 4 targets" in out
    rows = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| variant"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    assert len(rows) == 4
    baseline = rows["0.2 (no pin, no skip): baseline"]
    pinned = rows["0.3 default (pinned, skip current)"]
    rerun = rows["re-run, 0.3 default"]
    assert baseline[:3] == ["12", "12", "0"]  # POSTs, deployments, build reads
    assert pinned[:2] == ["12", "12"]
    assert int(pinned[2]) > 0
    assert rerun[:2] == ["0", "0"]  # a finished release run again sends nothing
    assert re.search(r"added wall time [+-][\d.]+ % of the release", out)
    assert "Re-run of the finished release: 0 POSTs, 0 deployments" in out

"""benchmarks/bench_promote.py runs, as its README says, and prints every table.

Only a smoke run (``--quick``): the figures are not checked, speed lives in benchmarks/.
"""

from __future__ import annotations

import re

from .helpers import run_script


def test_the_benchmark_quick_run_prints_its_tables() -> None:
    done = run_script("bench_promote.py", "--quick")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in ("## Fan-out:", "## Long stream:", "## Import time", "## Rate-limited fan-out"):
        assert heading in out
    for row in (
        "raw aiohttp + json.loads (floor)",
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

"""benchmarks/bench_wait.py runs, as its README says, and prints a table per count of waits.

Only a smoke run (``--quick``): the figures are not checked, speed lives in benchmarks/.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_wait.py"


def test_the_wait_benchmark_quick_run_prints_its_tables() -> None:
    done = subprocess.run(  # noqa: S603 - our own script, with the running interpreter
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "## Detection delay" in out
    for count in (3, 20, 100):
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

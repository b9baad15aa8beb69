"""benchmarks/fault_matrix.py holds on a small run: every target promoted exactly once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_matrix.py"


def test_the_fault_matrix_leaves_every_target_promoted_exactly_once() -> None:
    done = subprocess.run(  # noqa: S603 - our own script, with the running interpreter
        [sys.executable, str(SCRIPT), "--requests", "120", "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "targets promoted twice: 0, never: 0" in done.stdout
    assert "outcome states: {'promoted': 120}" in done.stdout


def test_the_reconcile_benchmark_quick_run_prints_its_table() -> None:
    script = SCRIPT.with_name("bench_reconcile.py")
    done = subprocess.run(  # noqa: S603 - our own script, with the running interpreter
        [sys.executable, str(script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [
        line for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert len(rows) == 1 + 4  # the header and one row per case
    baseline = [c.strip() for c in rows[1].strip("|").split("|")]
    assert baseline[2:4] == ["0.0", "0.0"]  # no fault: no read, no wait

"""benchmarks/fault_matrix.py holds on a small run (every target promoted exactly once),
and benchmarks/bench_reconcile.py prints its table."""

from __future__ import annotations

from .helpers import run_script


def test_the_fault_matrix_leaves_every_target_promoted_exactly_once() -> None:
    done = run_script("fault_matrix.py", "--requests", "120", "--seed", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "targets promoted twice: 0, never: 0" in done.stdout
    assert "outcome states: {'promoted': 120}" in done.stdout


def test_the_reconcile_benchmark_quick_run_prints_its_table() -> None:
    done = run_script("bench_reconcile.py", "--quick")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [line for line in lines if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 4  # the header and one row per case
    baseline = [c.strip() for c in rows[1].strip("|").split("|")]
    assert baseline[2:4] == ["0.0", "0.0"]  # no fault: no read, no wait

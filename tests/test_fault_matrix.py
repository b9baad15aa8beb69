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

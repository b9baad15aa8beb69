"""What ``release`` prints besides its rows: the requests of a ``--dry-run``, and what an
interrupted release had sent."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .. import PromoteRequest, PromotionState, ReleaseLedger
from ._console import EXIT_OK, Console

__all__ = ["dry_run", "report_interrupted"]


def dry_run(console: Console, waves: Sequence[Sequence[PromoteRequest]], on_failure: str) -> int:
    """Print every request the release would send, wave by wave; send nothing."""
    for w, wave in enumerate(waves):
        for e, request in enumerate(wave):
            path = f"/pipelines/{request.pipeline_id}/promote"
            body = {
                "source_app_id": str(request.source_app_id),
                "target_app_ids": [str(t) for t in request.target_app_ids],
            }
            data = {"wave": w, "entry": e, "method": "POST", "path": path, "body": body}
            console.emit(data, f"wave {w}, entry {e}: POST {path} {json.dumps(body)}")
    then = (
        "POST /applications/{id}/deployments/rollback for each target of that wave whose "
        "deployment failed"
        if on_failure == "rollback"
        else "nothing more"
    )
    console.note(
        f"dry run: nothing was sent; each wave waits for its deployments, and a failed wave "
        f"stops the release ({then})"
    )
    return EXIT_OK


def report_interrupted(console: Console, ledger: ReleaseLedger) -> None:
    """On Ctrl-C: which entries may have been promoted (``unknown``), and how many not."""
    counts: dict[PromotionState, int] = {}
    for wave, outcome in ledger.outcomes:
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
        if outcome.state is PromotionState.UNKNOWN:
            console.note(
                f"wave {wave}, entry {outcome.index}: in flight when interrupted; it may have "
                "been promoted (its deployments keep running)"
            )
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    console.note(f"interrupted: {summary or 'nothing sent'}")

"""What the CLI's journal costs: 1,000 entries (a ``sent`` and a ``result`` line each)
written with ``os.fsync`` after every line, against flush only, in the same run.

    python benchmarks/bench_journal.py [--entries 1000] [--dir DIR]

Prints the wall time of each variant, the time per line and the ratio; DIR (default: a
temporary directory) should be on the disk the journal will live on.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sevalla_async import PromoteRequest, Promotion, PromotionState
from sevalla_async._cli._journal import Journal


def run(path: Path, entries: int, *, durable: bool) -> float:
    plan = [PromoteRequest(uuid.uuid4(), uuid.uuid4(), [uuid.uuid4()]) for _ in range(entries)]
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    with Journal.open(path, durable=durable) as journal:
        journal.record_plan(entries)
        for index, request in enumerate(plan):
            journal.record_sent(index, request, now)
            made = [Promotion(request.target_app_ids[0], uuid.uuid4())]
            journal.record_result(index, request, PromotionState.PROMOTED, promotions=made)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        flushed = run(Path(tmp) / "flush.jsonl", args.entries, durable=False)
        synced = run(Path(tmp) / "fsync.jsonl", args.entries, durable=True)
    lines = 2 * args.entries + 1
    print(f"{args.entries} entries ({lines} lines)")
    print(f"flush only : {flushed * 1000:8.1f} ms  ({flushed / lines * 1e6:7.1f} us/line)")
    print(f"flush+fsync: {synced * 1000:8.1f} ms  ({synced / lines * 1e6:7.1f} us/line)")
    print(f"fsync / flush: {synced / flushed:.1f}x")
    # the API allows 30 promotions a minute: the entries take entries * 2 s at best
    floor = args.entries * 2.0
    print(
        f"fsync time / the run's floor at 30 promotions a minute ({floor:.0f} s): "
        f"{synced / floor * 100:.2f} %"
    )


if __name__ == "__main__":
    main()

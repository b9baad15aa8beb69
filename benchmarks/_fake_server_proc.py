"""FakeSevalla in its own process, for benchmarks (the client's CPU and memory stay its own).

    python benchmarks/_fake_server_proc.py --pipelines 2000 --targets 3 --plan plan.json \
        [--write-limit 200 --window 1.0]

Seeds the pipelines, writes the plan (``base_url``, ``api_key`` and one promote request
per pipeline, as plain strings) to ``--plan``, prints ``ready`` on stdout, then serves
until its standard input closes. Commands, one per line on stdin, each answered with one
JSON line on stdout:

- ``stats``: ``{"statuses": {"200": n, "429": m, ...}, "max_in_flight": k}`` since the last
  ``reset``;
- ``reset``: zero the counters and restart the rate-limit windows now (so a rate-limited
  run starts at the beginning of a window);
- ``limit R W``: from now on allow ``R`` writes per ``W`` seconds.

The fake records every request and keeps every deployment; this process folds the
records into status counters as it goes and drops the deployments that promotions made,
so a run of 100,000 requests does not grow its memory or slow it down.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from pathlib import Path

from sevalla_async.testing import FakeSevalla, RateLimit
from sevalla_async.testing._server import _Window

_UNLIMITED = RateLimit(10**9, 60.0)


async def _serve(args: argparse.Namespace) -> None:
    write_limit = (
        RateLimit(args.write_limit, args.window) if args.write_limit is not None else _UNLIMITED
    )
    statuses: collections.Counter[str] = collections.Counter()
    async with FakeSevalla(read_limit=_UNLIMITED, write_limit=write_limit) as fake:
        requests = fake.promote_requests(args.pipelines, targets=args.targets)
        plan = {
            "base_url": fake.base_url,
            "api_key": fake.api_key,
            "requests": [
                [str(r.pipeline_id), str(r.source_app_id), [str(t) for t in r.target_app_ids]]
                for r in requests
            ],
        }
        await asyncio.to_thread(Path(args.plan).write_text, json.dumps(plan))

        state = fake.state

        def fold() -> None:
            pending = []
            for record in fake.requests:
                if record.status is None:
                    pending.append(record)
                else:
                    statuses[str(record.status)] += 1
            fake.requests[:] = pending
            if len(state.deployments) > 20_000:  # drop the deployments promotions made
                made = [d for d in state.deployments.values() if d.trigger == "PROMOTION"]
                for deployment in made:
                    del state.deployments[deployment.id]
                    state.app_deployments[deployment.app_id].remove(deployment.id)

        async def trim() -> None:
            while True:
                await asyncio.sleep(0.25)
                fold()

        trimmer = asyncio.create_task(trim())
        out = sys.stdout
        out.write("ready\n")
        out.flush()
        try:
            while True:
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    return
                command = line.strip()
                if command == "stats":
                    fold()
                    out.write(
                        json.dumps({"statuses": statuses, "max_in_flight": fake.max_in_flight})
                        + "\n"
                    )
                elif command == "reset":
                    fold()
                    statuses.clear()
                    fake.max_in_flight = 0
                    now = time.monotonic()
                    for window in fake._windows.values():
                        window.start = now
                        window.used = 0
                    out.write('{"reset": true}\n')
                elif command.startswith("limit "):
                    _, requests_text, window_text = command.split()
                    limit = RateLimit(int(requests_text), float(window_text))
                    fake._windows["write"] = _Window(limit, time.monotonic)
                    out.write('{"limit": true}\n')
                else:
                    out.write(json.dumps({"error": f"unknown command {command!r}"}) + "\n")
                out.flush()
        finally:
            trimmer.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=2000)
    parser.add_argument("--targets", type=int, default=3)
    parser.add_argument("--plan", required=True, help="where to write the plan (JSON)")
    parser.add_argument("--write-limit", type=int, default=None, help="writes per window")
    parser.add_argument("--window", type=float, default=1.0, help="window in seconds")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()

"""Promote many pipelines at once from one event loop, a bounded number at a time.

Without an account (an embedded FakeSevalla plays the API)::

    python examples/fanout.py

Against the real API, with a plan file (a JSON list of objects with ``pipeline_id``,
``source_app_id`` and ``target_app_ids``)::

    SEVALLA_API_KEY=... python examples/fanout.py plan.json

One failure never stops the others: each request gets a ``PromoteOutcome`` holding either
its promotions or its error. The exit status is 0 when every promotion succeeded, else 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sevalla_async import PromoteOutcome, PromoteRequest, SevallaClient, SevallaError

CONCURRENCY = 8


async def promote_all(
    client: SevallaClient, requests: Sequence[PromoteRequest], concurrency: int = CONCURRENCY
) -> list[PromoteOutcome]:
    """Promote every request, at most ``concurrency`` at once; outcomes in input order."""
    # With the SDK's fan-out helper this whole body is one line:
    #     return await client.pipelines.promote_many(requests, concurrency=concurrency)
    semaphore = asyncio.Semaphore(concurrency)

    async def promote(index: int, request: PromoteRequest) -> PromoteOutcome:
        async with semaphore:
            try:
                promotions = await client.pipelines.promote_request(request)
            except SevallaError as error:
                return PromoteOutcome(request, None, error, index)
            return PromoteOutcome(request, promotions, None, index)

    return list(await asyncio.gather(*(promote(i, r) for i, r in enumerate(requests))))


def report(outcomes: Sequence[PromoteOutcome]) -> int:
    """Print one line per target (or per failure); return how many promotions failed."""
    failed = 0
    for outcome in outcomes:
        pipeline = outcome.request.pipeline_id
        if outcome.ok and outcome.promotions is not None:
            for p in outcome.promotions:
                print(f"ok      pipeline {pipeline}: app {p.target_app_id} -> {p.deployment_id}")
        else:
            failed += 1
            print(f"FAILED  pipeline {pipeline}: {outcome.error}")
    print(f"{len(outcomes) - failed} of {len(outcomes)} promotions succeeded")
    return failed


async def run(client: SevallaClient, requests: Sequence[PromoteRequest]) -> int:
    outcomes = await promote_all(client, requests)
    return 1 if report(outcomes) else 0


def load_plan(path: str) -> list[PromoteRequest]:
    """The plan's requests; a bad entry raises ``ValueError`` naming its index and field."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    requests = []
    for index, entry in enumerate(entries):
        try:
            requests.append(PromoteRequest.from_dict(entry))
        except ValueError as exc:
            raise ValueError(f"entry {index}: {exc}") from None
    return requests


async def main(argv: Sequence[str]) -> int:
    if os.environ.get("SEVALLA_API_KEY"):
        if len(argv) != 2:
            print(f"usage: {argv[0]} PLAN.json", file=sys.stderr)
            return 2
        requests = load_plan(argv[1])
        async with SevallaClient() as client:  # key and URL from the environment
            return await run(client, requests)

    from sevalla_async.testing import FakeSevalla

    async with FakeSevalla() as fake:
        requests = fake.promote_requests(10, targets=3)
        print(f"No SEVALLA_API_KEY: an embedded FakeSevalla at {fake.base_url} plays the API")
        async with SevallaClient(fake.api_key, base_url=fake.base_url) as client:
            return await run(client, requests)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv)))

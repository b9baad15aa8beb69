"""Promote a build, then wait for the deployment of every target and report how each ended.

Without an account (an embedded FakeSevalla plays the API)::

    python examples/promote_then_wait.py

Against the real API::

    SEVALLA_API_KEY=... python examples/promote_then_wait.py PIPELINE SOURCE_APP TARGET_APP...

Status changes are printed as the polls see them. A deployment that ends ``failed`` (or
``cancelled``, ``skipped``) is a result, not an exception; one that does not finish in time
is reported with the last status seen, and the others are still waited for. The exit
status is 0 when every deployment succeeded, else 1.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Sequence

from sevalla_async import (
    APITimeoutError,
    Deployment,
    SevallaClient,
    SevallaError,
    WaitAllError,
)

TIMEOUT = 15 * 60  # seconds for all the deployments together


async def promote_then_wait(
    client: SevallaClient,
    pipeline_id: str | uuid.UUID,
    source_app_id: str | uuid.UUID,
    target_app_ids: Sequence[str | uuid.UUID],
    *,
    timeout: float = TIMEOUT,
    poll_interval: float = 2.0,
) -> int:
    """Promote, wait, print one line per target; return how many did not succeed."""
    promotions = await client.pipelines.promote(
        pipeline_id, source_app_id=source_app_id, target_app_ids=target_app_ids
    )
    for p in promotions:
        print(f"started  app {p.target_app_id}: deployment {p.deployment_id}")

    seen: dict[uuid.UUID, str] = {}

    def show(deployment: Deployment) -> None:  # called with every poll's reply
        status = "null" if deployment.status is None else deployment.status.value
        if seen.get(deployment.id) != status:
            seen[deployment.id] = status
            print(f"         app {deployment.app_id}: {status}")

    results: list[Deployment | SevallaError]
    try:
        results = list(
            await client.deployments.wait_all(
                promotions, timeout=timeout, poll_interval=poll_interval, on_poll=show
            )
        )
    except WaitAllError as exc:  # some could not be waited for to the end; nothing is lost
        results = exc.results

    failed = 0
    for promotion, result in zip(promotions, results, strict=True):
        app = promotion.target_app_id
        if isinstance(result, Deployment) and result.succeeded:
            print(f"ok       app {app}: deployment {result.id} succeeded")
        elif isinstance(result, Deployment):
            failed += 1
            print(f"FAILED   app {app}: deployment {result.id} ended {result.status}")
        elif isinstance(result, APITimeoutError):  # it keeps the last deployment seen
            failed += 1
            last = result.last_result
            status = last.status if isinstance(last, Deployment) else "unknown"
            print(f"TIMEOUT  app {app}: deployment {promotion.deployment_id} still {status}")
        else:  # an API error that persisted after the client's retries
            failed += 1
            print(f"ERROR    app {app}: deployment {promotion.deployment_id}: {result}")
    print(f"{len(promotions) - failed} of {len(promotions)} deployments succeeded")
    return failed


async def main(argv: Sequence[str]) -> int:
    if os.environ.get("SEVALLA_API_KEY"):
        if len(argv) < 4:
            print(f"usage: {argv[0]} PIPELINE SOURCE_APP TARGET_APP...", file=sys.stderr)
            return 2
        async with SevallaClient() as client:  # key and URL from the environment
            failed = await promote_then_wait(client, argv[1], argv[2], argv[3:])
        return 1 if failed else 0

    from sevalla_async.testing import FakeSevalla

    async with FakeSevalla() as fake:
        pipeline = fake.add_pipeline(apps_per_stage=3)
        request = pipeline.promote_request(0, 1)
        print(f"No SEVALLA_API_KEY: an embedded FakeSevalla at {fake.base_url} plays the API")
        async with SevallaClient(fake.api_key, base_url=fake.base_url) as client:
            # The fake's deployments move one status per poll and its read budget is huge
            # (the polls' share of it follows): poll quickly. Against the API keep the
            # defaults.
            failed = await promote_then_wait(
                client,
                request.pipeline_id,
                request.source_app_id,
                request.target_app_ids,
                poll_interval=0.05,
            )
        return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv)))

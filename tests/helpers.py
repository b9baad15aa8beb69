"""Small helpers for the tests."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sevalla_async import Deployment, DeploymentStatus, PromoteRequest
from sevalla_async.testing import FakeSevalla

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


async def eventually(predicate: Callable[[], bool], *, limit: float = 5.0) -> None:
    """Wait (real time, bounded) until ``predicate()`` holds: for I/O under way, such as a
    request reaching the fake server. Fails the test past ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


def make_deployment(
    id: uuid.UUID,
    app_id: uuid.UUID | None,
    status: str | None,
    **fields: Any,
) -> Deployment:
    """A Deployment with every field the spec requires; ``fields`` override the defaults."""
    values: dict[str, Any] = {
        "type": "manual",
        "trigger": "PROMOTION",
        "steps": ("rollout",),
        "docker_image_url": None,
        "git_type": None,
        "repo_url": None,
        "branch": None,
        "commit_sha": None,
        "commit_message": None,
        "author_login": None,
        "author_img": None,
        "started_at": None,
        "finished_at": None,
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    values.update(fields)
    return Deployment(
        id=id,
        app_id=app_id,
        status=None if status is None else DeploymentStatus(status),
        **values,
    )


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<name>`` with the running interpreter; its output as text."""
    return subprocess.run(  # noqa: S603 - our own script, with the running interpreter
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def canary_then_rest(fake: FakeSevalla, targets: int = 3) -> list[list[PromoteRequest]]:
    """A release from one pipeline and one staging app: the first target is the canary
    (wave 0), the rest wave 1."""
    request = fake.promote_requests(1, targets=targets)[0]
    canary, *rest = request.target_app_ids
    return [
        [PromoteRequest(request.pipeline_id, request.source_app_id, [canary])],
        [PromoteRequest(request.pipeline_id, request.source_app_id, rest)],
    ]


def promotions_of(fake: FakeSevalla, target: uuid.UUID) -> list[uuid.UUID]:
    """The ids of the deployments a promotion made on ``target``."""
    return [
        d.id
        for d in fake.state.deployments.values()
        if d.app_id == target and d.trigger == "PROMOTION"
    ]


def posts(fake: FakeSevalla) -> int:
    """How many promote POSTs reached ``fake``."""
    return len(fake.requests_to("POST", "/promote"))

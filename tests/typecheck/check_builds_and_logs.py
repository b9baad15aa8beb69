# pyright: strict, reportUnnecessaryTypeIgnoreComment=true
"""Type-checking test of ``Build``, ``LogEntry``, ``Deployments.current_build`` and
``Deployments.logs`` and the fake's ``current_build`` / ``set_logs`` / ``fail_deployments``
(never run by pytest; see ``check_public_api.py`` for how CI checks it). Every misuse
carries a ``# type: ignore[code]`` that would become unused if the API accepted it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timezone

from sevalla_async import (
    Build,
    BuildChangedError,
    Deployment,
    LogEntry,
    PromoteRequest,
    SevallaClient,
)
from sevalla_async.testing import FakeSevalla

APP = "22222222-2222-4222-8222-222222222222"
DEPLOYMENT = uuid.UUID("33333333-3333-4333-8333-333333333333")


def builds(deployment: Deployment) -> None:
    build: Build = deployment.build
    sha: str | None = build.commit_sha
    image: str | None = build.docker_image_url
    same: bool = build == Build(sha, image)
    named: bool = build.matches("a1b2c3d")
    short: str | None = build.short_sha
    tag: str | None = build.image_tag
    print(same, named, short, tag, str(build))


def build_misuse(build: Build) -> None:
    Build(123, None)  # type: ignore[arg-type]
    build.matches(None)  # type: ignore[arg-type]
    build.commit_sha = "x"  # type: ignore[misc]


async def client_use(client: SevallaClient) -> None:
    current: Build | None = await client.deployments.current_build(APP)
    entries: list[LogEntry] = await client.deployments.logs(
        APP,
        DEPLOYMENT,
        severity="ERROR",
        limit=20,
        since=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    for entry in entries:
        when: datetime = entry.timestamp
        text: str = entry.message
        tags: Mapping[str, str] = entry.tags
        attributes: Mapping[str, str] = entry.attributes
        print(when, text, tags, attributes, entry.id, entry.severity, entry.service)
    print(current)


async def failure_logs_use(client: SevallaClient, waves: list[list[PromoteRequest]]) -> None:
    report = await client.releases.run(waves, failure_logs=5)
    why: dict[uuid.UUID, list[LogEntry]] = report.waves[0].failure_logs
    print(why)
    await client.releases.run(waves, failure_logs="5")  # type: ignore[arg-type]


async def client_misuse(client: SevallaClient) -> None:
    await client.deployments.logs(APP, DEPLOYMENT, limit="20")  # type: ignore[arg-type]
    await client.deployments.logs(APP, DEPLOYMENT, "ERROR")  # type: ignore[call-arg]
    await client.deployments.current_build(1)  # type: ignore[arg-type]
    sha: str = (await client.deployments.current_build(APP)).commit_sha  # type: ignore[union-attr, assignment]
    print(sha)


def fake_use(fake: FakeSevalla) -> None:
    build: Build | None = fake.current_build(APP)
    fake.set_logs(DEPLOYMENT, [{"message": "ok", "severity": "ERROR"}])
    fake.fail_deployments(APP, "the build broke")
    fake.fail_deployments(APP, None)
    print(build, fake.latency)


async def verified_build_use(client: SevallaClient, waves: list[list[PromoteRequest]]) -> None:
    build = await client.deployments.current_build(APP)
    made = await client.pipelines.promote(
        APP, source_app_id=APP, target_app_ids=[APP], expect_build=build, skip_current=True
    )
    current: bool = made[0].already_current
    await client.pipelines.promote(
        APP, source_app_id=APP, target_app_ids=[APP], expect_build="a1b2c3d"
    )
    await client.pipelines.promote_many(waves[0], skip_current=True)
    report = await client.releases.run(waves, pin_build=True, skip_current=False)
    pins: dict[uuid.UUID, Build] = report.builds
    why: str | None = report.stopped_reason
    try:
        await client.pipelines.promote_and_wait(
            APP, source_app_id=APP, target_app_ids=[APP], expect_build="a1b2c3d"
        )
    except BuildChangedError as error:
        expected: Build | str = error.expected
        actual: Build | None = error.actual
        print(expected, actual, error.deployments)
    print(current, pins, why)


async def verified_build_misuse(client: SevallaClient, waves: list[list[PromoteRequest]]) -> None:
    await client.pipelines.promote(APP, source_app_id=APP, target_app_ids=[APP], expect_build=7)  # type: ignore[arg-type]
    await client.releases.run(waves, pin_build="yes")  # type: ignore[arg-type]

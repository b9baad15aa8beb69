"""``sevalla-async diff PIPELINE``: every stage in order, its apps and the build each runs,
and which apps are behind the stage before (like ``heroku pipelines:diff``).

The API does not say which apps a stage holds (``getPipelineV3`` gives the stages only),
so they are named with ``--app STAGE=APP``. An app's build is that of its latest
successful deployment (what a promotion from it would deploy); an app is *behind* when its
build differs from the reference build of the nearest earlier stage that has apps: that
stage's first app (in ``--app`` order) with a build.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import attrs

from .. import Build, Deployment, Pipeline, PipelineStage, SevallaClient
from .._engine import Engine
from .._ids import to_uuid
from .._resources._current import latest_success
from ._console import EXIT_OK, Console, UsageError, make_client
from ._output import clean_text, render_table

__all__ = ["HELP", "diff"]

_CONCURRENCY = 8  # apps read at once
_PAGE = 20  # deployments a page while looking for an app's latest success

HELP = """\
Show every stage of PIPELINE in order, the apps you name for it and each one's current
build (the latest successful deployment's short commit sha, image tag and age), and which
apps are behind the stage before.

The API does not list a stage's apps: name them with --app STAGE=APP (repeatable), STAGE
being the stage's name (any case), id or order number. An app is behind when its build
differs from the reference of the nearest earlier stage with apps: that stage's first
--app with a build. With --output json: one JSON object. Exit status 0 (1 when the API
fails, 2 for bad arguments).
"""


@attrs.frozen
class AppState:
    """One app of a stage and the deployment that put its current build there."""

    app_id: uuid.UUID
    deployment: Deployment | None
    behind: bool | None = None
    reference: uuid.UUID | None = None

    @property
    def build(self) -> Build | None:
        return None if self.deployment is None else self.deployment.build

    @property
    def since(self) -> datetime | None:
        d = self.deployment
        return None if d is None else (d.finished_at or d.created_at)


def _stage_of(text: str, stages: Sequence[PipelineStage]) -> PipelineStage:
    for stage in stages:
        if text.lower() in (stage.display_name.lower(), str(stage.id)) or text == str(stage.order):
            return stage
    names = ", ".join(clean_text(s.display_name, 40) for s in stages) or "none"
    raise UsageError(f"--app: {clean_text(text, 80)!r} is not a stage of the pipeline ({names})")


def _parse_apps(pairs: Sequence[str]) -> list[tuple[str, uuid.UUID]]:
    """Each ``--app STAGE=APP`` as its stage text and app id (a :class:`UsageError` for a
    malformed one, before anything is read)."""
    parsed: list[tuple[str, uuid.UUID]] = []
    for pair in pairs:
        stage_text, equals, app_text = pair.rpartition("=")
        if not equals or not stage_text:
            raise UsageError(f"--app: expected STAGE=APP, got {clean_text(pair, 80)!r}")
        try:
            parsed.append((stage_text, to_uuid(app_text, "APP")))
        except ValueError as exc:
            raise UsageError(f"--app: {exc}") from None
    return parsed


def _apps_by_stage(
    pairs: Sequence[tuple[str, uuid.UUID]], stages: Sequence[PipelineStage]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    chosen: dict[uuid.UUID, list[uuid.UUID]] = {s.id: [] for s in stages}
    for stage_text, app in pairs:
        apps = chosen[_stage_of(stage_text, stages).id]
        if app not in apps:
            apps.append(app)
    return chosen


async def _read_builds(
    client: SevallaClient, apps: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Deployment | None]:

    async def one(_: int, app: uuid.UUID) -> Deployment | None:
        return await latest_success(client.deployments.list(app, page_size=_PAGE))

    found = await Engine(apps, one, concurrency=_CONCURRENCY).collect()
    return dict(zip(apps, found, strict=True))


def _compare(
    stages: Sequence[PipelineStage],
    chosen: dict[uuid.UUID, list[uuid.UUID]],
    found: dict[uuid.UUID, Deployment | None],
) -> list[tuple[PipelineStage, list[AppState]]]:
    """Each stage with its apps, each marked behind or not against the reference."""
    out: list[tuple[PipelineStage, list[AppState]]] = []
    reference: AppState | None = None
    for stage in stages:
        states = [AppState(app, found[app]) for app in chosen[stage.id]]
        if reference is not None and reference.build is not None:
            ref_build = reference.build
            states = [
                attrs.evolve(s, behind=s.build != ref_build, reference=reference.app_id)
                for s in states
            ]
        out.append((stage, states))
        if states:
            reference = next((s for s in states if s.build is not None), states[0])
    return out


async def diff(args: argparse.Namespace, console: Console) -> int:
    try:
        to_uuid(args.pipeline, "pipeline_id")
    except ValueError as exc:
        raise UsageError(f"PIPELINE: {exc}") from None
    pairs = _parse_apps(args.app)
    async with make_client(args) as client:
        pipeline = await client.pipelines.get(args.pipeline)
        stages = sorted(pipeline.stages, key=lambda s: s.order)
        chosen = _apps_by_stage(pairs, stages)
        apps = list(dict.fromkeys(a for s in stages for a in chosen[s.id]))
        found = await _read_builds(client, apps)
    compared = _compare(stages, chosen, found)
    now = time.time()
    if not apps:
        console.note("the API does not list a stage's apps: name them with --app STAGE=APP")
    console.emit(_as_json(pipeline, compared, now), _as_table(pipeline, compared, now))
    return EXIT_OK


def _age(since: datetime | None, now: float) -> float | None:
    return None if since is None else max(0.0, now - since.timestamp())


def _app_json(state: AppState, now: float) -> dict[str, Any]:
    build, d = state.build, state.deployment
    return {
        "app_id": str(state.app_id),
        "build": None
        if build is None
        else {
            "commit_sha": build.commit_sha,
            "short_sha": build.short_sha,
            "docker_image_url": build.docker_image_url,
            "image_tag": build.image_tag,
        },
        "deployment_id": None if d is None else str(d.id),
        "deployed_at": None if state.since is None else _iso(state.since),
        "age_seconds": _age(state.since, now),
        "behind": state.behind,
        "reference_app_id": None if state.reference is None else str(state.reference),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _as_json(
    pipeline: Pipeline, compared: list[tuple[PipelineStage, list[AppState]]], now: float
) -> dict[str, Any]:
    return {
        "pipeline_id": str(pipeline.id),
        "pipeline": pipeline.display_name,
        "stages": [
            {
                "id": str(stage.id),
                "name": stage.display_name,
                "order": stage.order,
                "type": stage.type,
                "apps": [_app_json(s, now) for s in states],
            }
            for stage, states in compared
        ],
    }


def _human_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


_COLUMNS = ("STAGE", "APP", "BUILD", "IMAGE TAG", "AGE", "")


def _as_table(
    pipeline: Pipeline, compared: list[tuple[PipelineStage, list[AppState]]], now: float
) -> str:
    rows: list[tuple[str, ...]] = []
    for stage, states in compared:
        name = clean_text(stage.display_name, 40)
        if not states:
            rows.append((name, "(no --app given)", "", "", "", ""))
        for s in states:
            build = s.build
            mark = {True: "behind", False: "up to date", None: ""}[s.behind]
            rows.append(
                (
                    name,
                    str(s.app_id),
                    "-" if build is None else clean_text(build.short_sha or "-", 40),
                    "-" if build is None else clean_text(build.image_tag or "-", 40),
                    _human_age(_age(s.since, now)),
                    mark if build is not None else "no successful deployment",
                )
            )
    title = f"{clean_text(pipeline.display_name, 80)} ({pipeline.id})"
    return title + "\n" + render_table(_COLUMNS, rows)

"""The fake API's data: pipelines, their stages' apps, and deployments that progress."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from .._models import Build, PromoteRequest
from ._logs import failure_lines

__all__ = [
    "FakeDeployment",
    "FakePipeline",
    "FakeStage",
    "PromotePlan",
    "State",
    "fresh_build",
]

_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@attrs.define
class FakeStage:
    """A stage of a fake pipeline and the apps it holds."""

    id: uuid.UUID
    pipeline_id: uuid.UUID
    display_name: str
    type: str
    order: int
    app_ids: list[uuid.UUID]
    created_at: datetime
    branch: str | None = None

    def summary(self) -> dict[str, Any]:
        """The stage as ``listPipelinesV3`` shows it."""
        return {
            "id": str(self.id),
            "display_name": self.display_name,
            "type": self.type,
            "order": self.order,
        }

    def detail(self) -> dict[str, Any]:
        """The stage as ``getPipelineV3`` shows it."""
        return {
            **self.summary(),
            "pipeline_id": str(self.pipeline_id),
            "branch": self.branch,
            "auto_create_app": False,
            "delete_stale_apps": False,
            "stale_app_days": 5,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.created_at),
        }


@attrs.define
class FakePipeline:
    """A fake pipeline. ``promote_request()`` gives a valid request for it."""

    id: uuid.UUID
    display_name: str
    type: str
    stages: list[FakeStage]
    company_id: uuid.UUID
    created_at: datetime

    def promote_request(self, source_stage: int = 0, target_stage: int = -1) -> PromoteRequest:
        """Promote the first app of ``source_stage`` to every app of ``target_stage``."""
        return PromoteRequest(
            self.id, self.stages[source_stage].app_ids[0], self.stages[target_stage].app_ids
        )

    def summary(self) -> dict[str, Any]:
        """The pipeline as ``listPipelinesV3`` shows it."""
        return {
            "id": str(self.id),
            "display_name": self.display_name,
            "type": self.type,
            "stages": [s.summary() for s in self.stages],
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.created_at),
        }

    def detail(self) -> dict[str, Any]:
        """The pipeline as ``getPipelineV3`` shows it."""
        return {  # the API's key order: id first, then summary()'s keys in place
            "id": str(self.id),
            "company_id": str(self.company_id),
            "project_id": None,
            **self.summary(),
            "stages": [s.detail() for s in self.stages],
        }


def fresh_build(app_id: uuid.UUID) -> Build:
    """A new build for ``app_id``: a random 40-character commit sha and its image."""
    sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    return Build(sha, f"registry.example/app/{app_id.hex[:8]}:{sha[:12]}")


@attrs.define
class PromotePlan:
    """How the next promote acts (set by a fault, read once by the promote route).

    Attributes:
        targets: act only on these targets (``None``: all of them).
        late: the deployments appear this many seconds (of the fake's clock) later.
    """

    targets: frozenset[uuid.UUID] | None = None
    late: float = 0.0


_ENDED = ("success", "failed", "cancelled", "skipped")


@attrs.define
class FakeDeployment:
    """A fake deployment that moves through ``script``, one status per step (the last one
    sticks; default ``waiting``, ``inProgress``, ``success``).

    A step is one GET of the deployment, or, when ``every`` is set, ``every`` seconds of the
    fake's clock since the deployment was created. :meth:`cancel` ends it as the API does:
    a waiting (or status-less) deployment is ``skipped``, a running one ``cancelled``.
    """

    id: uuid.UUID
    app_id: uuid.UUID
    script: list[str | None]
    created_at: datetime
    polls: int = 0
    trigger: str = "PROMOTION"
    every: float | None = None
    born: float = 0.0
    clock: Callable[[], float] | None = attrs.field(default=None, repr=False, eq=False)
    ended_as: str | None = None
    type: str = "manual"
    build: Build | None = None
    finished_at: datetime | None = None
    """When it first showed a terminal status (set then; ``finished_at`` in replies)."""

    @property
    def step(self) -> int:
        """How far along the script it is (0 = the first status)."""
        if self.every is not None and self.clock is not None:
            step = int((self.clock() - self.born) // self.every)
        else:
            step = self.polls
        return max(0, min(step, len(self.script) - 1))

    @property
    def status(self) -> str | None:
        """The status the next GET shows (``cancelled``/``skipped`` once cancelled)."""
        if self.ended_as is not None:
            return self.ended_as
        return self.script[self.step]

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` has ended it."""
        return self.ended_as is not None

    @property
    def cancellable(self) -> bool:
        """True while the API would accept a cancel (not finished yet)."""
        return self.status in ("waiting", "inProgress", None)

    def cancel(self) -> None:
        """End it as cancelled (skipped when it had not started)."""
        self.ended_as = "cancelled" if self.status == "inProgress" else "skipped"

    def _finished(self) -> datetime:
        """When it ended: at its creation if the script starts finished, at the step's
        time when paced by ``every``, else (per GET, or cancelled) when first seen ended."""
        if self.finished_at is None:
            first = next((i for i, s in enumerate(self.script) if s in _ENDED), None)
            if self.ended_as is None and first == 0:
                self.finished_at = self.created_at
            elif self.ended_as is None and first is not None and self.every is not None:
                self.finished_at = self.created_at + timedelta(seconds=first * self.every)
            else:
                seconds = self.clock() - self.born if self.clock is not None else 0.0
                self.finished_at = self.created_at + timedelta(seconds=max(seconds, 0.0))
        return self.finished_at

    def to_json(self) -> dict[str, Any]:
        """The deployment as ``getDeploymentV3`` shows it."""
        status = self.status
        started = status not in ("waiting", "skipped", None)
        finished = status in _ENDED
        return {
            "id": str(self.id),
            "app_id": str(self.app_id),
            "status": status,
            "type": self.type,
            "trigger": self.trigger,
            "steps": ["rollout"],
            "docker_image_url": self.build.docker_image_url
            if self.build is not None
            else f"registry.example/app/{self.app_id.hex[:8]}:latest",
            "git_type": None,
            "repo_url": None,
            "branch": None,
            "commit_sha": self.build.commit_sha if self.build is not None else None,
            "commit_message": None,
            "author_login": None,
            "author_img": None,
            "started_at": _iso(self.created_at) if started else None,
            "finished_at": _iso(self._finished()) if finished else None,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.created_at + timedelta(seconds=self.polls)),
        }


DEFAULT_SCRIPT: tuple[str, ...] = ("waiting", "inProgress", "success")

Script = tuple[list[str | None], float | None]
"""The statuses a deployment goes through, and the seconds per step (``None``: per GET)."""


class State:
    """Everything the fake API knows. Plain data; the routes read and change it."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] | None = None,
    ) -> None:
        self.clock = clock
        self.wall: Callable[[], float] = wall or time.time
        """Unix seconds: the server's time, before :attr:`skew`."""
        self.skew: float = 0.0
        """Seconds the server's clock runs ahead of the wall clock (negative: behind)."""
        self.promote_plan: PromotePlan | None = None
        self.pending: list[tuple[float, FakeDeployment]] = []
        self.company_id: uuid.UUID = uuid.UUID("5e7a11a0-0000-4000-8000-000000000001")
        self.pipelines: dict[uuid.UUID, FakePipeline] = {}
        self.deployments: dict[uuid.UUID, FakeDeployment] = {}
        self.app_deployments: dict[uuid.UUID, list[uuid.UUID]] = {}
        self.app_pipeline: dict[uuid.UUID, uuid.UUID] = {}
        # (statuses, seconds per step or None for one step per GET)
        self.next_scripts: dict[uuid.UUID, Script] = {}
        self.default_script: Script = (list(DEFAULT_SCRIPT), None)
        self.logs: dict[uuid.UUID, list[dict[str, Any]]] = {}
        """Each deployment's log entries (the spec's log objects), in time order."""
        self.failing: dict[uuid.UUID, str] = {}
        """Apps whose next deployments fail, and why (their ERROR log lines say it)."""
        self._counter = itertools.count(1)
        self._ids: Callable[[], uuid.UUID] = uuid.uuid4

    def _moment(self) -> datetime:
        return _EPOCH + timedelta(seconds=next(self._counter))

    def server_now(self) -> datetime:
        """The server's current time (wall clock plus skew), as a UTC datetime."""
        return datetime.fromtimestamp(self.wall() + self.skew, tz=timezone.utc)

    def last_success(self, app_id: uuid.UUID) -> FakeDeployment | None:
        """The app's latest successful deployment (of those in its history already)."""
        for dep_id in reversed(self.app_deployments.get(app_id, [])):
            if self.deployments[dep_id].status == "success":
                return self.deployments[dep_id]
        return None

    def latest_build(self, app_id: uuid.UUID) -> Build | None:
        """The build of the app's latest successful deployment."""
        self.materialize()
        last = self.last_success(app_id)
        return last.build if last is not None else None

    def materialize(self) -> None:
        """Add the late deployments whose time has come (see :class:`PromotePlan`), dated
        when their time came, however long after that the fake is next asked (the clock can
        jump far ahead while no request is in flight); each app's history stays in the
        order of creation."""
        if not self.pending:
            return
        now = self.clock()
        due = sorted(((at, d) for at, d in self.pending if at <= now), key=lambda item: item[0])
        if not due:
            return
        self.pending = [(at, d) for at, d in self.pending if at > now]
        server_now = self.server_now()
        touched: set[uuid.UUID] = set()
        for at, deployment in due:
            deployment.created_at = server_now - timedelta(seconds=now - at)
            deployment.born = at
            self.deployments[deployment.id] = deployment
            self.app_deployments.setdefault(deployment.app_id, []).append(deployment.id)
            touched.add(deployment.app_id)
        for app_id in touched:  # a late one may be older than a deployment added since
            self.app_deployments[app_id].sort(key=lambda d: self.deployments[d].created_at)

    def add_app(self, pipeline_id: uuid.UUID | None = None, *, deployed: bool = True) -> uuid.UUID:
        """A new app; ``deployed`` gives it one successful deployment to promote from."""
        app_id = self._ids()
        self.app_deployments[app_id] = []
        if pipeline_id is not None:
            self.app_pipeline[app_id] = pipeline_id
        if deployed:
            self.add_deployment(
                app_id, script=["success"], trigger="MANUAL_DEPLOY", build=fresh_build(app_id)
            )
        return app_id

    def add_pipeline(
        self, *, name: str | None, stages: Iterable[str], apps_per_stage: int
    ) -> FakePipeline:
        """:meth:`FakeSevalla.add_pipeline` (which holds the defaults)."""
        pipeline_id = self._ids()
        created = self._moment()
        stage_list: list[FakeStage] = []
        names = list(stages)
        for order, stage_name in enumerate(names):
            kind = "prod" if order == len(names) - 1 and len(names) > 1 else "standard"
            apps = [self.add_app(pipeline_id) for _ in range(apps_per_stage)]
            stage_list.append(
                FakeStage(self._ids(), pipeline_id, stage_name, kind, order, apps, created)
            )
        pipeline = FakePipeline(
            pipeline_id,
            name or f"pipeline-{len(self.pipelines) + 1}",
            "trunk",
            stage_list,
            self.company_id,
            created,
        )
        self.pipelines[pipeline_id] = pipeline
        return pipeline

    def add_deployment(
        self,
        app_id: uuid.UUID,
        *,
        script: list[str | None] | None = None,
        trigger: str = "PROMOTION",
        every: float | None = None,
        type: str = "manual",
        build: Build | None = None,
        late: float = 0.0,
    ) -> FakeDeployment:
        """A new deployment of ``app_id``; with ``late``, it appears in the app's history
        (and its ``created_at`` is set) only ``late`` seconds of the fake's clock later."""
        reason = self.failing.get(app_id) if script is None else None
        if reason is not None:
            script, every = ["waiting", "inProgress", "failed"], None
        elif script is None:
            script, every = self.next_scripts.pop(app_id, self.default_script)
        deployment = FakeDeployment(
            self._ids(),
            app_id,
            list(script),
            self.server_now(),
            trigger=trigger,
            every=every,
            born=self.clock(),
            clock=self.clock,
            type=type,
            build=build,
        )
        if reason is not None:
            self.logs[deployment.id] = failure_lines(deployment.created_at, build, reason)
        if late > 0:
            self.pending.append((self.clock() + late, deployment))
            return deployment
        self.materialize()
        self.deployments[deployment.id] = deployment
        self.app_deployments.setdefault(app_id, []).append(deployment.id)
        return deployment

    def promote(self, source: uuid.UUID, targets: list[uuid.UUID]) -> list[FakeDeployment]:
        """Deploy the source's latest successful build to every target (as the promote
        route does), following and clearing :attr:`promote_plan`."""
        plan, self.promote_plan = self.promote_plan or PromotePlan(), None
        build = self.latest_build(source)
        return [
            self.add_deployment(target, build=build, late=plan.late)
            for target in targets
            if plan.targets is None or target in plan.targets
        ]

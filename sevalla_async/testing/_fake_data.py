"""The data side of :class:`FakeSevalla`: pipelines, apps, deployments, builds and logs."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .._models import Build, PromoteRequest
from ._logs import log_entry, micros_of
from ._state import FakeDeployment, FakePipeline, State, fresh_build

__all__ = ["FakeData"]


class FakeData:
    """What a test sets up and reads back on the fake; a base of :class:`FakeSevalla`
    (which sets :attr:`state` and the lock that guards it)."""

    state: State
    _lock: threading.Lock

    def add_pipeline(
        self,
        *,
        name: str | None = None,
        stages: Iterable[str] = ("Staging", "Production"),
        apps_per_stage: int = 1,
    ) -> FakePipeline:
        """A new pipeline whose stages hold ``apps_per_stage`` apps each; every app has a
        successful deployment, so it can be promoted from."""
        return self.state.add_pipeline(name=name, stages=stages, apps_per_stage=apps_per_stage)

    def promote_requests(self, count: int, *, targets: int = 2) -> list[PromoteRequest]:
        """``count`` new pipelines and, for each, a valid request promoting its first
        stage to the ``targets`` apps of its second."""
        return [
            self.add_pipeline(apps_per_stage=targets).promote_request(0, 1) for _ in range(count)
        ]

    def add_app(self, *, deployed: bool = True) -> uuid.UUID:
        """An app outside any pipeline (with one successful deployment if ``deployed``)."""
        return self.state.add_app(deployed=deployed)

    def add_deployment(
        self,
        app_id: uuid.UUID,
        *,
        script: list[str | None] | None = None,
        every: float | None = None,
    ) -> FakeDeployment:
        """A deployment of ``app_id`` that shows ``script``'s statuses in turn: one per GET,
        or one per ``every`` seconds of the fake's clock (default: the script and pacing
        of :meth:`script_deployments`)."""
        return self.state.add_deployment(app_id, script=script, every=every)

    def deployment(self, deployment_id: uuid.UUID | str) -> FakeDeployment:
        """The fake's record of a deployment (its status, polls, cancellation)."""
        return self.state.deployments[uuid.UUID(str(deployment_id))]

    def script_deployments(
        self,
        statuses: Iterable[str | None],
        *,
        app_id: uuid.UUID | str | None = None,
        every: float | None = None,
    ) -> None:
        """The statuses the next deployments will show in turn (the last one sticks): one
        step per GET of the deployment, or, with ``every``, one step per ``every`` seconds
        of the fake's clock since the deployment was created. ``None`` is a status too (the
        API's ``null``), and so is any string, to mimic a status the SDK does not know.

        With ``app_id``, only that app's next deployment; otherwise every later one::

            fake.script_deployments(["waiting", "inProgress", "failed"], app_id=target)
            fake.script_deployments(["waiting", "inProgress", "success"], every=30)
        """
        script = list(statuses)
        if not script:
            raise ValueError("statuses: at least one status is required")
        if every is not None and not every > 0:
            raise ValueError(f"every: must be a positive number of seconds, got {every!r}")
        if app_id is None:
            self.state.default_script = (script, every)
        else:
            self.state.next_scripts[uuid.UUID(str(app_id))] = (script, every)

    @property
    def clock_skew(self) -> float:
        """Seconds the server's clock (``Date``, ``created_at``) runs ahead of the wall
        clock; negative when behind."""
        return self.state.skew

    @clock_skew.setter
    def clock_skew(self, seconds: float) -> None:
        self.state.skew = float(seconds)

    def deploy(
        self,
        app_id: uuid.UUID | str,
        *,
        build_of: uuid.UUID | str | None = None,
        automatic: bool = False,
        late: float = 0.0,
        script: list[str | None] | None = None,
    ) -> FakeDeployment:
        """A deployment that is not a promotion: a git push's automatic deploy
        (``automatic=True``) or a person's manual deploy, of the latest successful build
        of ``build_of`` (e.g. the promotion's source app) or of a new build (a new commit
        sha every time). Once it succeeds, its build is the app's :meth:`current_build`.

        ``script``: its statuses (default: those of :meth:`script_deployments`);
        ``late``: it appears only so many seconds of the fake's clock later. Safe to call
        while requests are being served, from any thread."""
        app = uuid.UUID(str(app_id))
        with self._lock:
            source = None if build_of is None else uuid.UUID(str(build_of))
            build = None if source is None else self.state.latest_build(source)
            return self.state.add_deployment(
                app,
                script=script,
                build=build or fresh_build(app),
                type="automatic" if automatic else "manual",
                trigger="AUTO_DEPLOY_ON_PUSH" if automatic else "MANUAL_DEPLOY",
                late=late,
            )

    def current_build(self, app_id: uuid.UUID | str) -> Build | None:
        """The app's current build as the API shows it: that of its latest successful
        deployment (what :meth:`Deployments.current_build` answers), or ``None``."""
        app = uuid.UUID(str(app_id))
        with self._lock:
            self.state.materialize()
            for dep_id in reversed(self.state.app_deployments.get(app, [])):
                shown = self.state.deployments[dep_id].to_json()
                if shown["status"] == "success":
                    return Build(shown["commit_sha"], shown["docker_image_url"])
        return None

    def set_logs(
        self, deployment_id: uuid.UUID | str, entries: Iterable[Mapping[str, Any]]
    ) -> None:
        """Replace a deployment's log (served by the logs route, with the spec's ``from``,
        ``to``, ``limit`` and ``filters``; ``from`` defaults to an hour before the server's
        clock).

        ``entries`` are dicts with the spec's log fields (``id``, ``message``, ``service``,
        ``severity``, ``timestamp``, ``tags``, ``attributes``, ``unix_timestamp`` in
        microseconds); missing ones get defaults (``INFO``, ``APP_DEPLOYMENT``, a time
        1 ms apart from the deployment's creation on). An unknown deployment, an unknown
        key or a value of the wrong type is a ``ValueError``.
        """
        dep = uuid.UUID(str(deployment_id))
        with self._lock:
            deployment = self.state.deployments.get(dep)
            if deployment is None:
                raise ValueError(f"deployment_id: {dep} is not a deployment of the fake")
            start = micros_of(deployment.created_at)
            self.state.logs[dep] = [
                log_entry(entry, default_micros=start + 1000 * index, index=index)
                for index, entry in enumerate(entries)
            ]

    def fail_deployments(
        self, app_id: uuid.UUID | str, reason: str | None = "the build command exited with 1"
    ) -> None:
        """Make the app's next deployments (promotions, rollbacks, :meth:`deploy`s without
        a ``script``) fail: ``waiting``, ``inProgress``, ``failed``, with a log whose ERROR
        lines give ``reason``. ``reason=None`` ends it."""
        app = uuid.UUID(str(app_id))
        with self._lock:
            if reason is None:
                self.state.failing.pop(app, None)
            else:
                self.state.failing[app] = reason

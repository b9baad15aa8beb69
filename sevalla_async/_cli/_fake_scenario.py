"""The scenario ``sevalla-async fake-server`` plays: ``--fail-app APP`` (its next
deployments fail, with ERROR log lines saying why), ``--slow SECONDS`` (every reply that
late) and ``--push-after SECONDS APP`` (a new build lands on APP that long after the start).

APP names a seeded app: ``PIPELINE/STAGE`` (its stage's first app) or
``PIPELINE/STAGE/N`` (its app N, from 0), names case-insensitive (``web/production``), or
its id. The seeded ids are new at every start; the names are not.
"""

from __future__ import annotations

import argparse
import math
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._console import UsageError

if TYPE_CHECKING:
    from ..testing import FakePipeline, FakeSevalla

__all__ = ["FAIL_REASON", "Scenario", "add_scenario_options", "scenario_lines"]

FAIL_REASON = "the build command exited with status 1 (scripted by fake-server --fail-app)"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not negative, got {text}")
    return value


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """``--fail-app``, ``--slow`` and ``--push-after`` on the ``fake-server`` command."""
    group = parser.add_argument_group(
        "scenario (APP: PIPELINE/STAGE, PIPELINE/STAGE/N from 0, or an app id)"
    )
    group.add_argument(
        "--fail-app",
        action="append",
        default=[],
        metavar="APP",
        help="APP's next deployments fail, with ERROR log lines saying why (repeatable)",
    )
    group.add_argument(
        "--slow",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="every reply takes SECONDS (default 0)",
    )
    group.add_argument(
        "--push-after",
        nargs=2,
        action="append",
        default=[],
        metavar=("SECONDS", "APP"),
        help="a new build (a new commit) lands on APP SECONDS after the start, as a "
        "successful automatic deploy (repeatable)",
    )


def _find_app(reference: str, pipelines: Sequence[FakePipeline]) -> uuid.UUID:
    """The seeded app ``reference`` names (``UsageError`` saying which names exist)."""
    apps = {a: p for p in pipelines for s in p.stages for a in s.app_ids}
    try:
        app = uuid.UUID(reference)
    except ValueError:
        pass
    else:
        if app in apps:
            return app
        raise UsageError(f"APP: {reference} is not an app of the seeded pipelines")
    parts = reference.split("/")
    if len(parts) in (2, 3):
        for pipeline in pipelines:
            for stage in pipeline.stages:
                if [pipeline.display_name.lower(), stage.display_name.lower()] == [
                    p.lower() for p in parts[:2]
                ]:
                    index = parts[2] if len(parts) == 3 else "0"
                    if index.isdigit() and int(index) < len(stage.app_ids):
                        return stage.app_ids[int(index)]
    names = [f"{p.display_name}/{s.display_name}" for p in pipelines for s in p.stages]
    raise UsageError(
        f"APP: {reference!r} names no seeded app; use PIPELINE/STAGE[/N] "
        f"({', '.join(names[:6]) or 'no pipelines seeded'}) or an app id"
    )


@attrs.frozen
class Scenario:
    """What to play on the fake, with every APP resolved to a seeded app id."""

    fail: tuple[uuid.UUID, ...] = ()
    slow: float = 0.0
    pushes: tuple[tuple[float, uuid.UUID], ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace, pipelines: Sequence[FakePipeline]) -> Scenario:
        fail = tuple(_find_app(ref, pipelines) for ref in args.fail_app)
        pushes = []
        for seconds, ref in args.push_after:
            try:
                delay = _seconds(seconds)
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"--push-after: {exc}") from None
            pushes.append((delay, _find_app(ref, pipelines)))
        return cls(fail, args.slow, tuple(pushes))

    def play(self, fake: FakeSevalla) -> None:
        """Set it up on ``fake`` (``--slow`` is given to its constructor)."""
        for app in self.fail:
            fake.fail_deployments(app, FAIL_REASON)
        for delay, app in self.pushes:
            script: list[str | None] | None = None if app in self.fail else ["success"]
            fake.deploy(app, automatic=True, late=delay, script=script)

    def as_json(self) -> dict[str, Any]:
        return {
            "fail_apps": [str(a) for a in self.fail],
            "slow": self.slow,
            "push_after": [{"seconds": s, "app_id": str(a)} for s, a in self.pushes],
        }


def scenario_lines(scenario: Scenario) -> list[str]:
    """The scenario, for the person reading the fake's instructions."""
    lines = [f"  {app} fails its next deployments" for app in scenario.fail]
    if scenario.slow:
        lines.append(f"  every reply takes {scenario.slow:g}s")
    lines += [f"  a new build lands on {app} after {s:g}s" for s, app in scenario.pushes]
    return ["", "Scenario:", *lines] if lines else []

"""The release part of ``sevalla-async demo``: a release whose canary fails (its error lines
shown under its row, its target rolled back, the next wave never sent), then a pinned
release that stops because a push landed on the staging app after the canary passed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from .. import PromoteRequest, SevallaClient, WaveReport
from ._console import Console
from ._output import plural
from ._release import ReleaseView

if TYPE_CHECKING:
    from ..testing import FakeSevalla

__all__ = ["FAILURE_LOGS", "release_stories"]

FAILURE_LOGS = 3
"""Error lines shown under a failed row in the demo (the CLI's default is 20)."""

_REASON = "npm ERR! missing script: build"


async def release_stories(
    fake: FakeSevalla,
    client: SevallaClient,
    console: Console,
    say: Callable[[str], None],
    poll_interval: float,
) -> None:
    """Both releases, one after the other."""
    stories = _Stories(fake, client, console, say, poll_interval)
    await stories.failing_canary()
    await stories.moved_build()


@attrs.frozen
class _Stories:
    """What both releases use: the embedded fake, a client on it, the console, the
    narrator and the poll interval."""

    fake: FakeSevalla
    client: SevallaClient
    console: Console
    say: Callable[[str], None]
    poll_interval: float

    async def failing_canary(self) -> None:
        """A release in two waves whose canary fails: its error lines are shown, its failed
        target is rolled back and the second wave is never sent."""
        fake, client, console, say = self.fake, self.client, self.console, self.say
        canary = fake.promote_requests(1, targets=2)
        rest = fake.promote_requests(2, targets=2)
        doomed = canary[0].target_app_ids[1]
        fake.fail_deployments(doomed, _REASON)
        say(
            "\nRelease in waves (client.releases.run / sevalla-async release): a canary wave "
            "(1 pipeline x 2 targets), then 2 pipelines; each source's build is pinned first, "
            "and the next wave starts only if every deployment of the last one succeeded.\n"
            f"Scripted: the canary's deployment on app {doomed} fails ({_REASON!r} in its log); "
            "its last error lines are shown under its row, and with on_failure='rollback' it "
            "is rolled back to its last good build."
        )
        if not console.json:
            console.line("")
        view = ReleaseView(console, failure_logs=FAILURE_LOGS)

        def gate(report: WaveReport) -> bool:
            fake.fail_deployments(doomed, None)  # the rollback itself deploys fine
            return view.gate(report)

        report = await client.releases.run(
            [canary, rest],
            gate=gate,
            on_failure="rollback",
            poll_interval=self.poll_interval,
            wait_timeout=60,
            failure_logs=FAILURE_LOGS,
            on_wave=view.wave,
            on_deployment=view.deployment,
            on_pin=view.pins.pin,
        )
        back = [r for r in report.rollbacks if r.succeeded]
        apps = [str(r.app_id) for r in back]
        never = self._untouched(t for r in rest for t in r.target_app_ids)
        say(
            f"\nRelease stopped at wave {report.stopped_at}: "
            f"{plural(len(back), 'target')} rolled back ({', '.join(apps)}); "
            f"wave 1 was never sent ({never} of its {2 * len(rest)} targets untouched)."
        )

    async def moved_build(self) -> None:
        """A release from one staging app: the canary passes, then a push lands on staging;
        the release stops before deploying a build no canary checked."""
        fake, client, console, say = self.fake, self.client, self.console, self.say
        [request] = fake.promote_requests(1, targets=3)
        source = request.source_app_id
        canary, *rest = request.target_app_ids
        waves = [
            [PromoteRequest(request.pipeline_id, source, [canary])],
            [PromoteRequest(request.pipeline_id, source, rest)],
        ]
        say(
            "\nA pinned release (the build you verified): a canary, then 2 more targets, all "
            f"from staging app {source}.\n"
            "Scripted: once the canary has passed, a git push lands on staging and deploys a "
            "new build; the release deploys only the build it pinned, so it stops."
        )
        if not console.json:
            console.line("")
        view = ReleaseView(console)

        def gate(report: WaveReport) -> bool:
            fake.deploy(source, automatic=True, script=["success"])  # the push
            return view.gate(report)

        report = await client.releases.run(
            waves,
            gate=gate,
            poll_interval=self.poll_interval,
            wait_timeout=60,
            on_wave=view.wave,
            on_deployment=view.deployment,
            on_pin=view.pins.pin,
        )
        view.head()
        untouched = self._untouched(rest)
        say(
            f"\nRelease stopped: {report.stopped_reason}.\n"
            f"{untouched} of its {plural(len(rest), 'target')} untouched; to ship the new "
            "build, release again (it is pinned afresh) once a canary has checked it."
        )

    def _untouched(self, targets: Iterable[uuid.UUID]) -> int:
        """How many of ``targets`` no promote request sent to the fake named."""
        sent = {
            t for r in self.fake.requests_to("POST", "/promote") for t in r.json()["target_app_ids"]
        }
        return sum(1 for t in targets if str(t) not in sent)

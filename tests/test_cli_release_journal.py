"""``sevalla-async release --journal / --resume``: a release killed with ``kill -9`` mid-wave
is resumed at the wave where it stopped, and no target is promoted twice."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import PromoteRequest
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import GUARD, Cli, make_cli, plan_of, spawn, wait_until, write_plan
from .test_cli_journal import SETTLE, promotions_of

pytestmark = pytest.mark.sevalla_loopback

FAST = ("--poll-interval", "0.02")


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


async def start_release(fake: FakeSevalla, *args: str) -> asyncio.subprocess.Process:
    """``sevalla-async release ARGS`` (polling fast) in a real subprocess, to be killed."""
    return await spawn(
        "release",
        *args,
        *FAST,
        env={"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url},
    )


def posts_to(fake: FakeSevalla, request: PromoteRequest) -> int:
    return len(fake.requests_to("POST", f"/pipelines/{request.pipeline_id}/promote"))


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_kill_9_mid_wave_then_resume_finishes_without_promoting_twice(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = [fake.promote_requests(1, targets=2), fake.promote_requests(3, targets=2)]
    made, lost = waves[1][1], waves[1][2]
    # wave 1: entry 1 is made but its reply never comes; entry 2 is never acted on
    fake.inject(
        Fault.act_then_fail("stall", stall=3600),
        method="POST",
        path=f"/pipelines/{made.pipeline_id}/promote",
    )
    fake.inject(
        Fault.fail_without_acting("stall", stall=3600),
        method="POST",
        path=f"/pipelines/{lost.pipeline_id}/promote",
    )
    plan = write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])
    journal = tmp_path / "release.jsonl"
    proc = await start_release(fake, plan, "--journal", str(journal), "--concurrency", "3")
    await wait_until(lambda: fake.in_flight == 2 and len(fake.requests_to("POST")) == 4)

    proc.kill()  # SIGKILL: no handler, nothing flushed at exit
    await asyncio.wait_for(proc.wait(), GUARD)
    assert proc.returncode == -signal.SIGKILL
    recorded = events(journal)
    sent = sorted(e["key"] for e in recorded if e["event"] == "sent")
    assert sent == ["0:0", "1:0", "1:1", "1:2"]
    assert {e["key"] for e in recorded if e["event"] == "result"} >= {"0:0"}
    fake.clear_faults()

    run = await cli("release", plan, "--resume", str(journal), *SETTLE, *FAST)

    assert run.code == 0, run.err
    assert run.lines()[-1] == {
        "event": "release",
        "completed": True,
        "stopped_at": None,
        "stopped_reason": None,
    }
    for request in (r for w in waves for r in w):  # every target promoted exactly once
        for target in request.target_app_ids:
            assert promotions_of(fake, target) == 1, target
    assert posts_to(fake, waves[0][0]) == 1  # the finished wave was not promoted again
    assert posts_to(fake, made) == 1  # found by reconciling, not sent again
    assert posts_to(fake, lost) == 2  # verified never made: sent again
    finals: dict[str, str] = {}
    for event in events(journal):
        if event["event"] == "result":
            finals[event["key"]] = event["state"]
    assert finals == dict.fromkeys(["0:0", "1:0", "1:1", "1:2"], "promoted")


async def test_resume_refuses_a_journal_of_another_plan(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = [fake.promote_requests(1)]
    plan = write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])
    journal = tmp_path / "release.jsonl"
    first = await cli("release", plan, "--journal", str(journal), *FAST)
    assert first.code == 0, first.err
    other = write_plan(tmp_path / "other.json", [plan_of(fake.promote_requests(1))])
    posts = len(fake.requests_to("POST"))

    run = await cli("release", other, "--resume", str(journal), *FAST)

    assert run.code == 2
    assert "the plan changed since the journal was written" in run.err
    assert len(fake.requests_to("POST")) == posts


async def test_resume_of_a_finished_release_sends_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = [fake.promote_requests(1), fake.promote_requests(2)]
    plan = write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])
    journal = tmp_path / "release.jsonl"
    assert (await cli("release", plan, "--journal", str(journal), *FAST)).code == 0
    posts = len(fake.requests_to("POST"))

    run = await cli("release", plan, "--resume", str(journal), *FAST)

    assert run.code == 0, run.err
    assert len(fake.requests_to("POST")) == posts
    assert "3 entries already promoted are not sent again" in run.err


async def test_resume_after_a_rolled_back_wave_does_not_roll_back_again(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = [fake.promote_requests(1), fake.promote_requests(2), fake.promote_requests(1)]
    bad = waves[1][0].target_app_ids[0]
    fake.script_deployments(["waiting", "inProgress", "failed"], app_id=bad)
    plan = write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])
    journal = tmp_path / "release.jsonl"
    first = await cli("release", plan, "--on-failure", "rollback", "--journal", str(journal), *FAST)
    assert first.code == 1, first.err
    assert len(fake.requests_to("POST", "/deployments/rollback")) == 1
    posts = len(fake.requests_to("POST"))

    run = await cli("release", plan, "--on-failure", "rollback", "--resume", str(journal), *FAST)

    assert run.code == 1, run.err
    assert len(fake.requests_to("POST")) == posts  # no promotion, no second rollback
    assert "release stopped at wave 1" in run.err


async def test_kill_9_while_waiting_for_a_rollback_then_resume_does_not_roll_back_again(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = [fake.promote_requests(1)]
    bad = waves[0][0].target_app_ids[0]
    # a dozen polls before it fails: time to script the rollback after the promotion
    fake.script_deployments(["waiting"] * 10 + ["inProgress", "failed"], app_id=bad)
    plan = write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])
    journal = tmp_path / "release.jsonl"
    proc = await start_release(fake, plan, "--on-failure", "rollback", "--journal", str(journal))
    await wait_until(lambda: len(fake.requests_to("POST", "/promote")) == 1)
    fake.script_deployments(["inProgress"], app_id=bad)  # the rollback never ends
    await wait_until(lambda: len(fake.requests_to("POST", "/deployments/rollback")) == 1)
    proc.kill()  # while waiting for the rollback: its result was never journaled
    await asyncio.wait_for(proc.wait(), GUARD)
    assert [e["event"] for e in events(journal)][-1] == "rollback_sent"
    posts = len(fake.requests_to("POST"))

    run = await cli("release", plan, "--on-failure", "rollback", "--resume", str(journal), *FAST)

    assert run.code == 1, run.err
    assert len(fake.requests_to("POST")) == posts  # the rollback is not sent a second time
    (shown,) = [line for line in run.lines() if line.get("rollback")]
    assert shown == {
        "event": "target",
        "wave": 0,
        "app_id": str(bad),
        "rollback": True,
        "state": "unknown",
    }
    again = await cli(
        "release", plan, "--on-failure", "rollback", "--resume", str(journal), "--output", "table"
    )
    assert "rollback unknown: sent before, not sent again (check the app)" in again.out
    assert len(fake.requests_to("POST")) == posts

"""What the CLI says, in detail: huge invalid ids cut short, one message for a flat plan
given to ``release``, ``fake-server --output auto`` as its help says, "1 entry" (not "1
entries"), and no blank ``sevalla-async:`` lines in the demo's story."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest

from sevalla_async import PromoteRequest
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import GUARD, Cli, finish, make_cli, plan_of, promote_args, spawn, write_plan

pytestmark = pytest.mark.sevalla_loopback  # real sockets: the CLI against the fake

HUGE = "x" * 10_000_000  # an id of 10 MB


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def test_a_huge_invalid_id_is_cut_short_in_the_library_error() -> None:
    with pytest.raises(ValueError, match="target_app_ids") as info:
        PromoteRequest(
            "11111111-1111-4111-8111-111111111111",
            "22222222-2222-4222-8222-222222222222",
            [HUGE],
        )
    message = str(info.value)
    assert len(message) < 400
    assert f"({len(HUGE) - 100} more characters)" in message
    assert message.startswith("target_app_ids[0]: 'xxxx")


async def test_a_huge_invalid_id_is_cut_short_on_stderr(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    (request,) = fake.promote_requests(1)
    bad = await cli("promote", *promote_args(request)[:2], HUGE, "--target", "y" * 200_000)
    plan = write_plan(
        tmp_path / "plan.json",
        [{**plan_of([request])[0], "source_app_id": HUGE}],
    )
    many = await cli("promote-many", plan)

    assert bad.code == 2
    assert len(bad.err) + len(bad.out) < 2_000
    assert "more characters" in bad.err
    assert many.code == 2
    assert len(many.err) + len(many.out) < 3_000
    assert fake.requests == []


async def test_a_flat_plan_given_to_release_says_so_once(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path / "plan.json", plan_of(fake.promote_requests(3)))

    run = await cli("release", plan)

    assert run.code == 2
    assert run.err.count("expected waves (a list of lists of entries)") == 1
    assert "wave 1" not in run.err
    assert fake.requests == []


async def test_fake_server_output_auto_prints_json_when_piped() -> None:
    proc = await spawn("fake-server", "--output", "auto", "--pipelines", "1", env={})
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), GUARD)
    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 0
    info = json.loads(first)
    assert info["base_url"].startswith("http://127.0.0.1:")
    assert len(info["pipelines"]) == 1


async def test_one_is_singular(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    requests = fake.promote_requests(2)
    fake.inject(
        Fault.error(404), method="POST", path=f"/pipelines/{requests[1].pipeline_id}/promote"
    )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    waves = write_plan(tmp_path / "waves.json", [plan_of(fake.promote_requests(1))])

    many = await cli("promote-many", plan)
    release = await cli("release", waves, "--poll-interval", "0.02")

    assert "2 promotions: 1 ok, 1 failed (entry 1)" in many.err
    assert release.code == 0, release.err
    assert "release completed: 1 wave" in release.err
    for run in (many, release):
        assert " 1 entries" not in run.err
        assert " 1 waves" not in run.err


async def test_the_demo_story_on_stderr_has_no_blank_lines() -> None:
    run = await finish(await spawn("demo", "--pipelines", "3", "--delay", "0", env={}))

    assert run.code == 0, run.err
    lines = run.err.splitlines()
    assert lines
    assert all(line.startswith("sevalla-async: ") for line in lines), run.err
    assert not [line for line in lines if not line.removeprefix("sevalla-async: ").strip()]

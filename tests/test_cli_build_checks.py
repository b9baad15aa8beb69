"""The build you verified, on the command line: ``--expect-build`` and
``--skip-current/--no-skip-current`` on ``promote``, ``promote-many`` and ``release``;
``release`` shows, journals and resumes its pinned builds (``--repin``) (issue 20, items 6
and 8)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import Build, PromoteRequest
from sevalla_async.testing import FakeSevalla

from .helpers import canary_then_rest, posts
from .test_cli import Cli, make_cli, plan_of, promote_args, write_plan

pytestmark = pytest.mark.sevalla_loopback

FAST = ("--poll-interval", "0.02")
PROMOTE = "/promote"


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def sha_of(fake: FakeSevalla, app: Any) -> str:
    build = fake.current_build(app)
    assert build is not None
    assert build.commit_sha is not None
    return build.commit_sha


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def release_plan(tmp_path: Path, waves: list[list[PromoteRequest]]) -> str:
    return write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])


# --- promote -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["promote", "promote-many", "release"])
@pytest.mark.parametrize("value", ["abc12", "not a sha", "0123456789abcdefg"])
async def test_a_bad_expect_build_is_a_usage_error_before_sending(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, command: str, value: str
) -> None:
    (request,) = fake.promote_requests(1)
    if command == "promote":
        args = promote_args(request)
    else:
        entries = plan_of([request])
        args = [write_plan(tmp_path / "p.json", [entries] if command == "release" else entries)]

    run = await cli(command, *args, "--expect-build", value)

    assert run.code == 2, run.err
    assert "--expect-build" in run.err
    assert "commit sha" in run.err
    assert fake.requests == []


async def journaled_release(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> tuple[uuid.UUID, str, Path]:
    """A canary-then-rest release run to its end with a journal: its source app, its plan
    file and its journal."""
    waves = canary_then_rest(fake)
    plan = release_plan(tmp_path, waves)
    journal = tmp_path / "run.jsonl"
    run = await cli("release", plan, "--journal", str(journal), *FAST, "--output", "json")
    assert run.code == 0, run.err
    return waves[0][0].source_app_id, plan, journal


async def test_promote_of_a_source_that_moved_sends_nothing_exit_1(
    fake: FakeSevalla, cli: Cli
) -> None:
    (request,) = fake.promote_requests(1)

    run = await cli(
        "promote", *promote_args(request), "--expect-build", "0" * 40, "--output", "json"
    )

    assert run.code == 1
    [line] = run.lines()
    error = line["error"]
    assert set(error) >= {"type", "message", "status", "code", "request_id", "state"}
    assert error["type"] == "BuildChangedError"
    assert error["state"] == "not_sent"
    assert posts(fake) == 0


async def test_promote_of_the_expected_build_by_short_sha(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=2)
    short = sha_of(fake, request.source_app_id)[:7].upper()

    run = await cli("promote", *promote_args(request), "--expect-build", short, "--output", "json")

    assert run.code == 0, run.err
    assert len(run.lines()) == 2
    assert posts(fake) == 1


async def test_promote_skip_current_shows_current_targets_and_sends_nothing(
    fake: FakeSevalla, cli: Cli
) -> None:
    (request,) = fake.promote_requests(1, targets=2)
    first = await cli("promote", *promote_args(request), "--wait", *FAST, "--output", "json")
    assert first.code == 0, first.err

    again = await cli("promote", *promote_args(request), "--skip-current", "--output", "json")
    table = await cli("promote", *promote_args(request), "--skip-current", "--output", "table")
    waited = await cli(
        "promote", *promote_args(request), "--skip-current", "--wait", *FAST, "--output", "table"
    )

    assert (again.code, table.code, waited.code) == (0, 0, 0), again.err + table.err
    assert posts(fake) == 1  # only the first run's
    assert [line["already_current"] for line in again.lines()] == [True, True]
    header, *rows = table.out.splitlines()
    assert header.split() == ["TARGET", "APP", "DEPLOYMENT", "STATUS"]
    assert [row.split()[-1] for row in rows] == ["current", "current"]
    assert "success (current)" in waited.out
    plain = await cli("promote", *promote_args(request), "--no-skip-current", "--output", "json")
    assert plain.code == 0
    assert posts(fake) == 2
    assert all("already_current" not in line for line in plain.lines())


# --- promote-many --------------------------------------------------------------------------


async def test_promote_many_expect_build_applies_to_entries_without_their_own(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(2)
    entries = plan_of(requests)
    entries[0]["expect_build"] = sha_of(fake, requests[0].source_app_id)
    plan = write_plan(tmp_path / "plan.json", entries)

    run = await cli("promote-many", plan, "--expect-build", "f" * 40, "--output", "json")

    assert run.code == 1
    ok, moved = sorted(run.lines(), key=lambda line: line["index"])
    assert ok["ok"] is True
    assert moved["ok"] is False
    assert moved["error"]["type"] == "BuildChangedError"
    assert moved["error"]["state"] == "not_sent"
    sent = [r.json()["source_app_id"] for r in fake.requests_to("POST", PROMOTE)]
    assert sent == [str(requests[0].source_app_id)]


async def test_promote_many_skip_current_rerun_sends_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(2, targets=2)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    first = await cli("promote-many", plan, "--wait", *FAST, "--output", "json")
    assert first.code == 0, first.err

    again = await cli("promote-many", plan, "--skip-current", "--output", "json")
    table = await cli("promote-many", plan, "--skip-current", "--wait", *FAST, "--output", "table")

    assert (again.code, table.code) == (0, 0), again.err + table.err
    assert posts(fake) == 2  # the first run's
    for line in again.lines():
        assert [p["already_current"] for p in line["promotions"]] == [True, True]
    assert table.out.count("success (current)") == 4


# --- release -------------------------------------------------------------------------------


async def test_release_shows_and_journals_its_pins_and_a_rerun_sends_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id
    pinned = fake.current_build(source)
    assert pinned is not None
    plan = release_plan(tmp_path, waves)
    journal = tmp_path / "run.jsonl"

    run = await cli("release", plan, "--journal", str(journal), *FAST, "--output", "json")

    assert run.code == 0, run.err
    first = run.lines()[0]
    assert first == {
        "event": "pins",
        "builds": {
            str(source): {
                "commit_sha": pinned.commit_sha,
                "docker_image_url": pinned.docker_image_url,
            }
        },
    }
    recorded = events(journal)
    kinds = [e["event"] for e in recorded]
    assert kinds.index("pin") < kinds.index("sent")  # pinned before anything is sent
    [pin] = [e for e in recorded if e["event"] == "pin"]
    assert pin["source_app_id"] == str(source)
    assert Build(**pin["build"]) == pinned

    again = await cli("release", plan, *FAST, "--output", "table")
    assert again.code == 0, again.err
    assert again.out.splitlines()[0] == f"source {source}: build {pinned} (pinned)"
    assert posts(fake) == 2  # the first run's two waves: the re-run sent nothing
    forced = await cli("release", plan, "--no-skip-current", *FAST, "--output", "json")
    assert forced.code == 0, forced.err
    assert posts(fake) == 4


async def test_release_resume_keeps_the_journaled_pins_and_stops_on_a_moved_source(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    source, plan, journal = await journaled_release(fake, cli, tmp_path)
    pinned = fake.current_build(source)
    fake.deploy(source, script=["success"])  # a push lands on staging
    moved = fake.current_build(source)
    assert moved is not None
    assert moved != pinned

    resumed = await cli("release", plan, "--resume", str(journal), *FAST, "--output", "json")

    assert resumed.code == 1
    last = resumed.lines()[-1]
    assert (last["completed"], last["stopped_at"]) == (False, 0)
    for part in (str(source), str(pinned), str(moved)):
        assert part in last["stopped_reason"]
        assert part in resumed.err
    assert posts(fake) == 2  # nothing more was sent

    repinned = await cli(
        "release", plan, "--resume", str(journal), "--repin", *FAST, "--output", "json"
    )
    assert repinned.code == 0, repinned.err
    assert repinned.lines()[0]["builds"][str(source)]["commit_sha"] == moved.commit_sha
    pins = [e for e in events(journal) if e["event"] == "pin"]
    assert [p["build"]["commit_sha"] for p in pins][-1] == moved.commit_sha


async def test_an_old_journal_without_pins_resumes_pinning_afresh(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    source, plan, journal = await journaled_release(fake, cli, tmp_path)
    lines = journal.read_text().splitlines()
    old = [line for line in lines if json.loads(line)["event"] != "pin"]  # a 0.3.0 journal
    assert len(old) < len(lines)
    journal.write_text("\n".join(old) + "\n")
    fake.deploy(source, script=["success"])  # pinned fresh: the new build is the release's

    resumed = await cli("release", plan, "--resume", str(journal), *FAST, "--output", "table")

    assert resumed.code == 0, resumed.err
    now = fake.current_build(source)
    assert resumed.out.splitlines()[0] == f"source {source}: build {now} (pinned)"
    assert [e["event"] for e in events(journal)].count("pin") == 1


async def test_repin_without_resume_is_a_usage_error(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    plan = release_plan(tmp_path, canary_then_rest(fake))
    run = await cli("release", plan, "--repin")
    assert run.code == 2
    assert "--repin" in run.err
    assert fake.requests == []


async def test_release_expect_build_of_another_build_fails_the_first_wave(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    plan = release_plan(tmp_path, canary_then_rest(fake))

    run = await cli("release", plan, "--expect-build", "a" * 40, *FAST, "--output", "json")

    assert run.code == 1
    entry = next(e for e in run.lines() if e["event"] == "entry")
    assert entry["error"]["type"] == "BuildChangedError"
    assert entry["state"] == "not_sent"
    assert posts(fake) == 0

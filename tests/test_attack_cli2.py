"""A second round of attacks on the CLI's promises (never promoted twice, what could not
be recorded is not sent, one error shape): each test here failed before the fix it names,
or holds a promise the round checked."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sevalla_async.testing import FakeSevalla

from .helpers import canary_then_rest, promotions_of
from .test_cli import Cli, make_cli, plan_of, write_plan
from .test_cli_journal_safety import _fail_after

pytestmark = [pytest.mark.sevalla_loopback, pytest.mark.sevalla_fake(wall_clock=time.time)]

FAST = ("--poll-interval", "0.02")
SETTLE = ("--reconcile-settle", "0")


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_a_resume_stopped_by_a_moved_source_keeps_the_promotions_journaled(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id
    canary = waves[0][0].target_app_ids[0]
    rest = waves[1][0].target_app_ids
    plan = write_plan(tmp_path / "waves.json", [plan_of(w) for w in waves])
    journal = tmp_path / "run.jsonl"
    _fail_after(monkeypatch, 4)  # plan, pin, sent 0:0, result 0:0: wave 1 unrecordable

    run = await cli("release", plan, "--journal", str(journal), *FAST, "--output", "json")

    assert run.code == 1, run.err
    assert [e["event"] for e in events(journal)] == ["plan", "pin", "sent", "result"]
    assert len(promotions_of(fake, canary)) == 1
    assert all(promotions_of(fake, t) == [] for t in rest)
    monkeypatch.undo()
    pinned = fake.current_build(source)
    fake.deploy(source, script=["success"])
    moved = fake.current_build(source)
    assert moved != pinned

    resume = ("release", plan, "--resume", str(journal), *SETTLE, *FAST, "--output", "json")
    stopped = await cli(*resume)

    assert stopped.code == 1, stopped.err
    last = stopped.lines()[-1]
    assert last["completed"] is False
    assert str(moved) in last["stopped_reason"]
    assert len(fake.requests_to("POST", "/promote")) == 1
    # the stop reports wave 0's entry not_sent: the journal must keep it promoted
    results = [e for e in events(journal) if e["event"] == "result" and e["key"] == "0:0"]
    assert results[-1]["state"] == "promoted"

    repinned = await cli(*resume, "--repin")

    assert repinned.code == 0, repinned.err
    assert len(promotions_of(fake, canary)) == 1  # journaled as promoted: not sent again
    assert all(len(promotions_of(fake, t)) == 1 for t in rest)


@pytest.mark.parametrize("lines", [2, 3, 4, 5])
async def test_promote_many_skip_current_stopped_then_resumed_promotes_nothing_twice(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: int
) -> None:
    requests = fake.promote_requests(4, targets=2)
    current = write_plan(tmp_path / "current.json", plan_of(requests[:2]))
    made = await cli("promote-many", current, "--wait", *FAST, "--output", "json")
    assert made.code == 0, made.err
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    _fail_after(monkeypatch, lines)
    many = ("promote-many", plan, "--skip-current", "--concurrency", "1", "--output", "json")

    run = await cli(*many, "--journal", str(journal))

    assert run.code == 1, run.err
    monkeypatch.undo()
    journaled = [e["index"] for e in events(journal) if e["event"] == "result"]

    again = await cli(*many, "--resume", str(journal), *SETTLE)

    assert again.code == 0, again.err
    for request in requests:
        for target in request.target_app_ids:
            assert len(promotions_of(fake, target)) == 1
    rows = {line["index"]: line for line in again.lines()}
    assert sorted(rows) == [0, 1, 2, 3]
    assert all(rows[i]["ok"] for i in range(4))
    for i in (0, 1):  # current: from the journal (its result recorded) or checked again
        if i in journaled or not any(e.get("index") == i for e in events(journal)):
            assert [p.get("already_current") for p in rows[i]["promotions"]] == [True, True]
    assert len(fake.requests_to("POST", "/promote")) == 2 + 2  # the first run's, entries 2-3

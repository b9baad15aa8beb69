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


async def test_promote_many_one_entry_of_another_build_is_refused_alone_and_on_resume(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(4)
    entries = plan_of(requests)
    entries[2]["expect_build"] = "f" * 40
    plan = write_plan(tmp_path / "plan.json", entries)
    journal = tmp_path / "run.jsonl"

    run = await cli("promote-many", plan, "--journal", str(journal), "--output", "json")

    assert run.code == 1, run.err
    rows = {line["index"]: line for line in run.lines()}
    assert [rows[i]["ok"] for i in range(4)] == [True, True, False, True]
    assert rows[2]["error"]["type"] == "BuildChangedError"
    assert rows[2]["state"] == "not_sent"
    [refused] = [e for e in events(journal) if e["event"] == "result" and e["index"] == 2]
    assert refused["state"] == "not_sent"
    assert refused["error"]["type"] == "BuildChangedError"
    assert len(fake.requests_to("POST", "/promote")) == 3

    again = await cli("promote-many", plan, "--resume", str(journal), *SETTLE, "--output", "json")

    assert again.code == 1, again.err
    rows = {line["index"]: line for line in again.lines()}
    assert rows[2]["error"]["type"] == "BuildChangedError"
    assert len(fake.requests_to("POST", "/promote")) == 3  # still refused, nothing re-sent
    for request in requests[:2] + requests[3:]:
        assert len(promotions_of(fake, request.target_app_ids[0])) == 1


@pytest.mark.parametrize(
    "pair",
    [
        "Staging=" + "a" * 10_000_000,
        "Staging=\x1b[31mred\x07",
        "\x1b[2J" * 1000 + "=00000000-0000-0000-0000-000000000000",
        "Q" * 10_000_000 + "=00000000-0000-0000-0000-000000000000",
        "=00000000-0000-0000-0000-000000000000",
        "Staging=",
    ],
)
@pytest.mark.parametrize("output", ["json", "table"])
async def test_diff_hostile_app_arguments_are_short_escaped_usage_errors(
    fake: FakeSevalla, cli: Cli, pair: str, output: str
) -> None:
    pipeline = fake.add_pipeline()

    run = await cli("diff", str(pipeline.id), "--app", pair, "--output", output)

    assert run.code == 2, run.err
    assert len(run.err) + len(run.out) < 2000
    assert "\x1b" not in run.err + run.out
    assert "\x07" not in run.err + run.out
    assert "Traceback" not in run.err
    if output == "json":
        [error] = run.lines()
        assert set(error) >= {"error"}
    if "=0000" not in pair:  # a malformed STAGE=APP is refused before anything is read
        assert fake.requests == []
    assert fake.requests_to("GET", "/deployments") == []


async def test_diff_an_app_named_twice_or_never_deployed_is_a_clean_row(
    fake: FakeSevalla, cli: Cli
) -> None:
    pipeline = fake.add_pipeline(stages=("Dev", "Production"), apps_per_stage=1)
    dev, prod = (s.app_ids[0] for s in pipeline.stages)
    fake.state.app_deployments[prod].clear()
    args = ["--app", f"Dev={dev}", "--app", f"dev={dev}", "--app", f"Production={prod}"]

    run = await cli("diff", str(pipeline.id), *args, "--output", "json")

    assert run.code == 0, run.err
    [document] = run.lines()
    apps = [[a["app_id"] for a in s["apps"]] for s in document["stages"]]
    assert apps == [[str(dev)], [str(prod)]]
    assert document["stages"][1]["apps"][0]["build"] is None
    assert document["stages"][1]["apps"][0]["behind"] is True

"""``sevalla-async release``: the plan's validation and output in process, and the command
end to end against the loopback fake (run as in test_cli.py)."""

from __future__ import annotations

import io
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import PromoteRequest, ReleaseLedger, SevallaClient
from sevalla_async._cli import main
from sevalla_async._cli._console import Console
from sevalla_async._cli._plan import PlanError
from sevalla_async._cli._release import ReleaseView, run_release
from sevalla_async._cli._release_plan import parse_release_plan
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import Cli, finish, make_cli, plan_of, spawn, wait_until, write_plan

FAILING = ["waiting", "inProgress", "failed"]
FAST = ("--poll-interval", "0.02")


def waves_json(waves: list[list[PromoteRequest]]) -> list[list[dict[str, Any]]]:
    return [plan_of(wave) for wave in waves]


def make_waves(fake: FakeSevalla, sizes: list[int], targets: int = 1) -> list[list[Any]]:
    return [fake.promote_requests(n, targets=targets) for n in sizes]


# --- the plan ------------------------------------------------------------------------------


def test_plan_as_a_list_of_waves(fake: FakeSevalla) -> None:
    waves = make_waves(fake, [1, 2])
    assert parse_release_plan(json.dumps(waves_json(waves))) == waves


def test_plan_as_json_lines_groups_by_wave(fake: FakeSevalla) -> None:
    waves = make_waves(fake, [1, 2])
    lines = [
        json.dumps({"wave": 7, **plan_of(waves[1])[0]}),
        json.dumps({"wave": 2, **plan_of(waves[0])[0]}),
        "",
        json.dumps({"wave": 7, **plan_of(waves[1])[1]}),
    ]
    assert parse_release_plan("\n".join(lines)) == waves


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('"waves"', "plan: line 1: expected a JSON object"),
        ("[]", "plan: the plan has no wave"),
        ("[[]]", "wave 0: a wave needs at least one entry"),
        ('[{"pipeline_id": "x"}]', "plan: expected waves (a list of lists of entries)"),
        ("[[", "plan: not valid JSON"),
        ('{"pipeline_id": "x"}', "plan: line 1: wave: expected a whole number >= 0, got None"),
        ('{"wave": -1}', "plan: line 1: wave: expected a whole number >= 0"),
        ("nope", "plan: line 1 is not valid JSON"),
    ],
)
def test_plan_refuses_what_is_not_a_release_plan(text: str, problem: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_release_plan(text)
    assert caught.value.problems[0].startswith(problem), caught.value.problems


def test_plan_reports_every_bad_entry_with_wave_entry_and_field(fake: FakeSevalla) -> None:
    waves = waves_json(make_waves(fake, [2, 2]))
    waves[0][1]["target_app_ids"] = ["nope"]
    del waves[1][0]["source_app_id"]
    waves[1][1]["target_app_ids"] = waves[0][0]["target_app_ids"]
    with pytest.raises(PlanError) as caught:
        parse_release_plan(json.dumps(waves))
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[0].startswith("wave 0, entry 1: target_app_ids[0]: 'nope'")
    assert problems[1].startswith("wave 1, entry 0: source_app_id")
    assert problems[2].startswith("wave 1, entry 1: target_app_ids: ")
    assert "already a target of wave 0, entry 0" in problems[2]


def test_plan_problems_in_json_lines_name_the_line(fake: FakeSevalla) -> None:
    entry = plan_of(fake.promote_requests(1))[0]
    text = "\n".join(
        [json.dumps({"wave": 0, **entry}), json.dumps({"wave": 1, **entry, "pipeline_id": 3})]
    )
    with pytest.raises(PlanError) as caught:
        parse_release_plan(text)
    assert caught.value.problems[0].startswith("wave 1, entry 0 (line 2): pipeline_id")


# --- the view, in process ------------------------------------------------------------------


def _console(output: str) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(out=out, err=err, output=output, progress=False), out, err  # type: ignore[arg-type]


async def test_view_prints_status_changes_waves_and_rollbacks_as_json(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = make_waves(fake, [1, 2, 1])
    bad = waves[1][1].target_app_ids[0]
    fake.script_deployments(FAILING, app_id=bad)
    console, out, _ = _console("json")

    completed, stopped_at = await run_release(
        client,
        waves,
        ReleaseView(console),
        on_failure="rollback",
        concurrency=4,
        timeout=60,
        poll_interval=1,
    )

    assert (completed, stopped_at) == (False, 1)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    waves_seen = [(e["wave"], e["status"]) for e in events if e["event"] == "wave"]
    assert waves_seen == [(0, "started"), (0, "passed"), (1, "started"), (1, "failed")]
    target = [e for e in events if e["event"] == "target" and e["app_id"] == str(bad)]
    assert [(e["status"], e["rollback"]) for e in target] == [
        ("waiting", False),
        ("inProgress", False),
        ("failed", False),
        ("waiting", True),
        ("inProgress", True),
        ("success", True),
    ]
    assert events[-1]["rolled_back"] == [str(bad)]
    assert events[-1]["succeeded"] == 1
    assert events[-1]["targets"] == 2


async def test_view_table_rows_and_failed_entries(fake: FakeSevalla, client: SevallaClient) -> None:
    [wave] = make_waves(fake, [2])
    fake.inject(Fault.error(404, "Pipeline not found"), method="POST", path="/promote")
    console, out, _ = _console("table")
    ledger = ReleaseLedger()
    result = await run_release(
        client,
        [wave],
        ReleaseView(console),
        on_failure="stop",
        concurrency=1,
        timeout=60,
        poll_interval=1,
        ledger=ledger,
    )
    assert result == (False, 0)
    lines = out.getvalue().splitlines()
    sources = [r.source_app_id for r in wave]
    for line, source in zip(lines, sources, strict=False):  # the pins head the output
        assert line.startswith(f"source {source}: build ")
        assert line.endswith("(pinned)")
    assert lines[len(sources)].split() == ["WAVE", "TARGET", "APP", "STATUS"]
    first = str(wave[0].target_app_ids[0])
    assert any(
        line.startswith("0") and first in line and "rejected: NotFoundError" in line
        for line in lines
    )
    assert lines[-1] == "wave 0: failed (1/2 deployments succeeded)"


# --- end to end ----------------------------------------------------------------------------


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


@pytest.mark.sevalla_loopback
async def test_release_all_waves_pass(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    waves = make_waves(fake, [1, 2])
    plan = write_plan(tmp_path / "waves.json", waves_json(waves))

    run = await cli("release", plan, *FAST)

    assert run.code == 0, run.err
    events = run.lines()
    assert events[-1] == {
        "event": "release",
        "completed": True,
        "stopped_at": None,
        "stopped_reason": None,
    }
    finished = {e["app_id"] for e in events if e["event"] == "target" and e["status"] == "success"}
    assert finished == {str(t) for w in waves for r in w for t in r.target_app_ids}
    assert "release completed: 2 waves" in run.err


@pytest.mark.sevalla_loopback
async def test_release_stops_and_rolls_back_a_failed_wave(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = make_waves(fake, [1, 2, 1])
    bad = waves[1][0].target_app_ids[0]
    fake.script_deployments(FAILING, app_id=bad)
    lines = [json.dumps({"wave": w, **e}) for w, wave in enumerate(waves) for e in plan_of(wave)]
    plan = tmp_path / "waves.jsonl"
    plan.write_text("\n".join(lines), encoding="utf-8")

    run = await cli("release", str(plan), "--on-failure", "rollback", *FAST)

    assert run.code == 1, run.err
    assert run.lines()[-1] == {
        "event": "release",
        "completed": False,
        "stopped_at": 1,
        "stopped_reason": "the gate of wave 1 failed",
    }
    rollbacks = fake.requests_to("POST", "/deployments/rollback")
    assert [r.path.split("/")[-3] for r in rollbacks] == [str(bad)]
    promoted = {t for r in fake.requests_to("POST", "/promote") for t in r.json()["target_app_ids"]}
    assert str(waves[2][0].target_app_ids[0]) not in promoted
    assert "release stopped at wave 1" in run.err


@pytest.mark.sevalla_loopback
async def test_release_refuses_an_invalid_plan_before_sending(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = waves_json(make_waves(fake, [1, 1]))
    waves[1][0]["target_app_ids"] = ["not-a-uuid"]
    run = await cli("release", write_plan(tmp_path / "w.json", waves))
    assert run.code == 2
    assert "wave 1, entry 0: target_app_ids[0]: 'not-a-uuid'" in run.err
    assert "nothing was sent" in run.err
    assert fake.requests == []


@pytest.mark.sevalla_loopback
async def test_release_dry_run_prints_and_sends_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves = make_waves(fake, [1, 2])
    run = await cli(
        "release",
        write_plan(tmp_path / "w.json", waves_json(waves)),
        "--dry-run",
        env={"SEVALLA_API_KEY": None},
    )
    assert run.code == 0, run.err
    lines = run.lines()
    assert [(line["wave"], line["entry"]) for line in lines] == [(0, 0), (1, 0), (1, 1)]
    assert lines[2]["path"] == f"/pipelines/{waves[1][1].pipeline_id}/promote"
    assert lines[2]["body"]["target_app_ids"] == [str(t) for t in waves[1][1].target_app_ids]
    assert fake.requests == []


@pytest.mark.sevalla_loopback
async def test_release_interrupted_exits_130_and_reports(fake: FakeSevalla, tmp_path: Path) -> None:
    waves = make_waves(fake, [1, 1])
    fake.inject(
        Fault.slow(3600), method="POST", path=f"/pipelines/{waves[1][0].pipeline_id}/promote"
    )
    plan = write_plan(tmp_path / "w.json", waves_json(waves))
    proc = await spawn(
        "release",
        plan,
        *FAST,
        env={"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url},
    )
    await wait_until(lambda: fake.in_flight == 1 and len(fake.requests_to("POST")) == 2)
    proc.send_signal(signal.SIGINT)
    run = await finish(proc)
    assert run.code == 130
    assert "wave 1, entry 0: in flight when interrupted" in run.err
    assert "interrupted: 1 promoted, 1 unknown" in run.err


def test_release_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["release", "--help"])
    text = capsys.readouterr().out
    for code in (
        "0    every wave passed",
        "1    a wave failed",
        "2    the plan",
        "130  interrupted",
    ):
        assert code in text
    assert "--on-failure {stop,rollback}" in text
    assert "--dry-run" in text

"""Issue 20, item 5 ("why it failed"): the last ERROR lines of every deployment that ended
``failed``, in :attr:`WaveReport.failure_logs` (read before the gate decides) and shown by
the CLI's ``wait``, ``promote --wait``, ``promote-many --wait`` and ``release``; nothing
read when nothing failed or ``failure_logs=0``; a failed read never breaks the release;
hostile log text contained in the CLI's output."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sevalla_async import (
    DeploymentProgress,
    LogEntry,
    PromoteRequest,
    PromotionState,
    SevallaClient,
    WaveReport,
)
from sevalla_async._cli._console import Console
from sevalla_async._cli._failure_logs import MAX_JSON_MESSAGE, log_lines, logs_json
from sevalla_async._cli._release import ReleaseView
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import Cli, make_cli, plan_of, promote_args, write_plan

LOGS = "/logs"
REASON = "npm run build exited with 1"


def logs_read(fake: FakeSevalla) -> int:
    return len(fake.requests_to("GET", LOGS))


# --- the SDK: releases.run ----------------------------------------------------------------


async def test_a_failed_canary_s_error_lines_are_in_the_report_and_the_gate_sees_them(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    canary, rest = fake.promote_requests(1, targets=2), fake.promote_requests(1)
    bad, _ = canary[0].target_app_ids
    fake.fail_deployments(bad, REASON)
    seen: list[WaveReport] = []

    def gate(report: WaveReport) -> bool:
        seen.append(report)
        return report.succeeded

    report = await client.releases.run([canary, rest], gate=gate, on_failure="rollback")

    assert not report.completed
    [wave] = report.waves
    assert list(wave.failure_logs) == [bad]  # the app that succeeded is not read
    lines = wave.failure_logs[bad]
    assert [e.severity for e in lines] == ["ERROR", "ERROR"]
    assert REASON in lines[0].message
    assert seen[0].failure_logs == wave.failure_logs  # attached before the gate decided
    assert seen[0].passed is None
    assert logs_read(fake) == 1
    [read] = fake.requests_to("GET", LOGS)
    assert json.loads(read.query["filters"]) == [
        {"key": "severity", "operator": "EQUALS", "value": "ERROR"}
    ]
    assert read.query["limit"] == "20"
    failed = next(d for d in wave.deployments if d.app_id == bad)
    since = (failed.created_at - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert read.query["from"].startswith(since)
    assert [r.app_id for r in wave.rollbacks] == [bad]


async def test_only_the_last_failure_logs_error_lines_are_kept(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    [target] = entry.target_app_ids
    fake.fail_deployments(target)

    report = await client.releases.run([[entry]], failure_logs=1)

    [lines] = report.waves[0].failure_logs.values()
    assert len(lines) == 1
    assert lines[0].message.startswith("Deployment failed")  # the latest one
    assert fake.requests_to("GET", LOGS)[0].query["limit"] == "1"


async def test_nothing_is_read_when_every_deployment_succeeded(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = [fake.promote_requests(1), fake.promote_requests(2)]
    report = await client.releases.run(waves)
    assert report.completed
    assert all(w.failure_logs == {} for w in report.waves)
    assert logs_read(fake) == 0


async def test_failure_logs_0_reads_nothing(fake: FakeSevalla, client: SevallaClient) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    fake.fail_deployments(entry.target_app_ids[0])
    report = await client.releases.run([[entry]], failure_logs=0)
    assert not report.completed
    assert report.waves[0].failure_logs == {}
    assert logs_read(fake) == 0


async def test_a_cancelled_deployment_is_not_read(fake: FakeSevalla, client: SevallaClient) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    fake.script_deployments(["waiting", "cancelled"], app_id=entry.target_app_ids[0])
    report = await client.releases.run([[entry]])
    assert not report.completed
    assert report.waves[0].failure_logs == {}
    assert logs_read(fake) == 0


@pytest.mark.parametrize("value", [-1, 5001, 2.0, "20", True, None])
async def test_failure_logs_is_checked_before_anything_is_sent(
    fake: FakeSevalla, client: SevallaClient, value: object
) -> None:
    waves = [fake.promote_requests(1)]
    with pytest.raises(ValueError, match=r"^failure_logs: must be an integer from 0 to 5000"):
        await client.releases.run(waves, failure_logs=value)  # type: ignore[arg-type]
    assert fake.requests == []


async def test_a_logs_read_that_fails_leaves_the_release_intact(
    fake: FakeSevalla, client: SevallaClient, caplog: pytest.LogCaptureFixture
) -> None:
    canary = fake.promote_requests(1, targets=2)
    bad = canary[0].target_app_ids[0]
    fake.fail_deployments(bad, REASON)
    fake.inject(Fault.error(500, "logs are down"), times=50, path=LOGS)
    caplog.set_level(logging.WARNING, logger="sevalla_async")

    report = await client.releases.run([canary, fake.promote_requests(1)], on_failure="rollback")

    assert not report.completed
    assert report.stopped_at == 0
    [wave] = report.waves
    assert wave.passed is False
    assert wave.failure_logs == {}  # the app whose read failed is left out
    assert [o.state for o in wave.outcomes] == [PromotionState.PROMOTED]
    assert [r.app_id for r in wave.rollbacks] == [bad]
    assert wave.rollbacks[0].deployment is not None  # rolled back (the app still fails)
    assert logs_read(fake) >= 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("could not read the error log" in w and str(bad) in w for w in warnings)


# --- the CLI ----------------------------------------------------------------------------------

FAST = ("--poll-interval", "0.001", "--polls-per-minute", "1000000")
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\r\nforged INFO all good\u202e" + "x" * 100_000


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def release_plan(tmp_path: Path, waves: list[list[PromoteRequest]]) -> str:
    return write_plan(tmp_path / "waves.json", [plan_of(wave) for wave in waves])


def canary_and_rest(
    fake: FakeSevalla, reason: str = REASON
) -> tuple[list[list[PromoteRequest]], uuid.UUID]:
    waves = [fake.promote_requests(1, targets=2), fake.promote_requests(1)]
    bad = waves[0][0].target_app_ids[0]
    fake.fail_deployments(bad, reason)
    return waves, bad


@pytest.mark.sevalla_loopback
async def test_release_shows_the_failed_canary_s_error_lines(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves, bad = canary_and_rest(fake)
    plan = release_plan(tmp_path, waves)

    table = await cli("release", plan, "--on-failure", "rollback", *FAST, "--output", "table")

    assert table.code == 1, table.err
    lines = table.out.splitlines()
    row = next(i for i, line in enumerate(lines) if str(bad) in line and line.endswith("failed"))
    assert lines[row + 1].startswith("    ")
    assert f"Build failed: {REASON}" in lines[row + 1]
    assert lines[row + 2].startswith("    ")
    assert "Deployment failed" in lines[row + 2]
    rollback_rows = [i for i, line in enumerate(lines) if "rollback" in line]
    assert rollback_rows
    assert row < min(rollback_rows)
    assert lines[-1].startswith("wave 0: failed")
    assert logs_read(fake) == 1


@pytest.mark.sevalla_loopback
async def test_release_json_gives_the_failed_target_a_logs_field(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves, bad = canary_and_rest(fake)

    run = await cli("release", release_plan(tmp_path, waves), *FAST, "--failure-logs", "1")

    assert run.code == 1, run.err
    targets = [e for e in run.lines() if e["event"] == "target"]
    [failed] = [e for e in targets if e["status"] == "failed"]
    assert failed["app_id"] == str(bad)
    assert [line["severity"] for line in failed["logs"]] == ["ERROR"]
    assert failed["logs"][0]["message"].startswith("Deployment failed")  # the last one
    assert failed["logs"][0]["timestamp"].endswith("Z")
    assert all("logs" not in e for e in targets if e["status"] != "failed")
    assert fake.requests_to("GET", LOGS)[0].query["limit"] == "1"


@pytest.mark.sevalla_loopback
async def test_release_failure_logs_0_reads_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves, bad = canary_and_rest(fake)
    run = await cli("release", release_plan(tmp_path, waves), *FAST, "--failure-logs", "0")
    assert run.code == 1, run.err
    [failed] = [e for e in run.lines() if e.get("status") == "failed" and "app_id" in e]
    assert failed["app_id"] == str(bad)
    assert "logs" not in failed
    assert logs_read(fake) == 0


@pytest.mark.sevalla_loopback
async def test_promote_wait_shows_the_error_lines_of_the_failed_target(
    fake: FakeSevalla, cli: Cli
) -> None:
    [first] = fake.promote_requests(1, targets=2)
    [second] = fake.promote_requests(1, targets=2)
    for request in (first, second):
        fake.fail_deployments(request.target_app_ids[1], REASON)

    run, table = await asyncio.gather(
        cli("promote", *promote_args(first), "--wait", *FAST, "--output", "json"),
        cli("promote", *promote_args(second), "--wait", *FAST, "--output", "table"),
    )

    assert run.code == 1, run.err
    ok, failed = run.lines()
    assert "logs" not in ok
    assert failed["target_app_id"] == str(first.target_app_ids[1])
    assert [line["severity"] for line in failed["logs"]] == ["ERROR", "ERROR"]
    assert REASON in failed["logs"][0]["message"]
    assert table.code == 1, table.err
    lines = table.out.splitlines()
    row = next(i for i, line in enumerate(lines) if str(second.target_app_ids[1]) in line)
    assert lines[row].rstrip().endswith("failed")
    assert lines[row + 1].startswith("    ")
    assert REASON in lines[row + 1]
    assert logs_read(fake) == 2


@pytest.mark.sevalla_loopback
async def test_promote_many_wait_json_and_table(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(2, targets=1)
    doomed = requests[1].target_app_ids[0]
    fake.fail_deployments(doomed, REASON)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))

    run = await cli("promote-many", plan, "--wait", *FAST, "--output", "json")
    table = await cli("promote-many", plan, "--wait", *FAST, "--output", "table")

    assert run.code == 1, run.err
    by_index = {line["index"]: line for line in run.lines()}
    assert "logs" not in by_index[0]["deployments"][0]
    [failed] = by_index[1]["deployments"]
    assert failed["status"] == "failed"
    assert REASON in failed["logs"][0]["message"]
    lines = table.out.splitlines()
    row = next(i for i, line in enumerate(lines) if str(doomed) in line)
    assert lines[row + 1].startswith("    ")
    assert REASON in lines[row + 1]


@pytest.mark.sevalla_loopback
async def test_wait_shows_the_error_lines_and_nothing_is_read_on_success(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    app = fake.add_app()
    fake.fail_deployments(app, REASON)
    dep = fake.add_deployment(app).id  # fails, with ERROR lines in its log
    good = fake.promote_requests(2, targets=2)

    run, table, fine = await asyncio.gather(
        cli("wait", str(app), str(dep), *FAST, "--output", "json"),
        cli("wait", str(app), str(dep), *FAST, "--output", "table", "--failure-logs", "1"),
        cli("promote-many", write_plan(tmp_path / "p.json", plan_of(good)), "--wait", *FAST),
    )

    assert run.code == 1
    [line] = run.lines()
    assert [e["severity"] for e in line["logs"]] == ["ERROR", "ERROR"]
    assert table.code == 1
    logged = [line for line in table.out.splitlines() if line.startswith("    ")]
    assert len(logged) == 1
    assert "Deployment failed" in logged[0]
    assert fine.code == 0, fine.err
    assert logs_read(fake) == 2  # the two waits; nothing for the deployments that succeeded


def assert_contained(text: str, key: str) -> None:
    assert key not in text
    for character in ("\x1b", "\x07", "\r", "\u202e"):
        assert character not in text
    assert not any(line.startswith("forged") for line in text.splitlines())


@pytest.mark.sevalla_loopback
async def test_hostile_log_lines_are_contained_in_the_output(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    waves, _ = canary_and_rest(fake, HOSTILE + fake.api_key)
    plan = release_plan(tmp_path, waves)

    table = await cli("release", plan, *FAST, "--output", "table")
    as_json = await cli("release", plan, *FAST, "--output", "json")

    for run in (table, as_json):
        assert run.code == 1, run.err
        assert_contained(run.out, fake.api_key)
        assert_contained(run.err, fake.api_key)
    logged = [line for line in table.out.splitlines() if line.startswith("    ")]
    assert any("\\x1b[2J" in line for line in logged)  # shown escaped, not run
    assert max(len(line) for line in table.out.splitlines()) < 700  # cut at 500 characters
    [failed] = [e for e in as_json.lines() if e.get("logs")]
    message = failed["logs"][0]["message"]
    assert message.startswith("Build failed: \\x1b[2J\\x1b]0;pwned\\x07\\r\\nforged INFO")
    assert len(message) < 4300
    assert "truncated" in message


async def test_a_key_echoed_in_a_log_line_is_redacted(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    fake.fail_deployments(entry.target_app_ids[0], f"token {fake.api_key} refused")
    report = await client.releases.run([[entry]])
    [lines] = report.waves[0].failure_logs.values()
    assert fake.api_key not in lines[0].message
    assert "[redacted]" in lines[0].message


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--failure-logs", "-1"), "--failure-logs: must not be negative"),
        (("--failure-logs", "5001"), "--failure-logs: must be an integer from 0 to 5000"),
        (("--failure-logs", "x"), "--failure-logs: expected a whole number"),
    ],
)
@pytest.mark.sevalla_loopback
async def test_a_bad_failure_logs_is_a_usage_error_before_anything_is_sent(
    fake: FakeSevalla, cli: Cli, args: tuple[str, ...], problem: str
) -> None:
    [request] = fake.promote_requests(1)
    run = await cli("promote", *promote_args(request), "--wait", *args)
    assert run.code == 2
    assert problem in run.err
    assert fake.requests_to("POST", "/promote") == []


@pytest.mark.sevalla_loopback
async def test_failure_logs_needs_wait_on_promote(fake: FakeSevalla, cli: Cli) -> None:
    [request] = fake.promote_requests(1)
    run = await cli("promote", *promote_args(request), "--failure-logs", "5")
    assert run.code == 2
    assert "--failure-logs applies only with --wait" in run.err
    assert fake.requests == []


def test_the_cli_cleans_log_text_again_like_any_server_text() -> None:
    raw = LogEntry(
        id="1",
        timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc),
        severity="ERR\x1bOR",
        message="\x1b[31mred\r\nforged\ud800" + "y" * 10_000,
        service="APP_DEPLOYMENT",
        tags={},
        attributes={},
    )
    [line] = log_lines([raw])
    assert line.startswith("    2026-01-01 00:00:00  \\x1b[31mred\\x0d\\x0aforged\ufffd")
    assert line.endswith("more characters)")
    assert len(line) < 600
    [data] = logs_json([raw])
    assert data == {
        "timestamp": "2026-01-01T00:00:00Z",
        "severity": "ERR\\x1bOR",
        "message": data["message"],
    }
    assert "\x1b" not in data["message"]
    assert len(data["message"]) < MAX_JSON_MESSAGE + 50
    assert log_lines([]) == ["    (no ERROR lines in its log)"]
    assert log_lines(None) == []


def _console(output: str) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(out=out, err=io.StringIO(), output=output, progress=False)  # type: ignore[arg-type]
    return console, out


async def test_the_view_without_its_gate_prints_held_rows_at_the_wave_s_end(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    [target] = entry.target_app_ids
    fake.fail_deployments(target, REASON)
    console, out = _console("json")
    view = ReleaseView(console, failure_logs=20)

    await client.releases.run([[entry]], on_wave=view.wave, on_deployment=view.deployment)

    events = [json.loads(line) for line in out.getvalue().splitlines()]
    [failed] = [e for e in events if e.get("status") == "failed" and e["event"] == "target"]
    assert REASON in failed["logs"][0]["message"]
    assert events[-1]["event"] == "wave"  # the held row came before the wave's line


async def test_an_interrupted_release_still_prints_the_held_rows(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    fake.fail_deployments(entry.target_app_ids[0], REASON)
    console, out = _console("table")
    view = ReleaseView(console, failure_logs=20)

    run: asyncio.Future[object] | None = None

    def stop(progress: DeploymentProgress) -> None:
        view.deployment(progress)
        if progress.deployment.status == "failed" and run is not None:
            run.cancel()  # stands in for Ctrl-C once the failure was seen

    run = asyncio.ensure_future(client.releases.run([[entry]], on_deployment=stop))
    with pytest.raises(asyncio.CancelledError):
        await run
    assert "failed" not in out.getvalue()  # held for its error lines
    view.flush()
    assert out.getvalue().splitlines()[-1].endswith("failed")

"""Issue 20, item 5 ("why it failed"): the last ERROR lines of every deployment that ended
``failed``, in :attr:`WaveReport.failure_logs` (read before the gate decides) and shown by
the CLI's ``wait``, ``promote --wait``, ``promote-many --wait`` and ``release``; nothing
read when nothing failed or ``failure_logs=0``; a failed read never breaks the release;
hostile log text contained in the CLI's output."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from sevalla_async import PromotionState, SevallaClient, WaveReport
from sevalla_async.testing import FakeSevalla, Fault

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

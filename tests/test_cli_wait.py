"""The CLI's waiting end to end (``wait``, ``promote --wait``, ``promote-many --wait``, the
demo's wait phase) against the test's FakeSevalla, run as in test_cli.py (Ctrl-C in a subprocess).

The fake's deployments move one status per GET, so the CLI is told to poll quickly
(``FAST``); a timeout is provoked without any real wait by a first poll interval longer
than the wait's timeout (the SDK gives up as soon as the next poll would come too late).
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest

from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import Cli, finish, make_cli, plan_of, promote_args, spawn, wait_until, write_plan

pytestmark = pytest.mark.sevalla_loopback  # real sockets: the CLI, TLS, proxies, wire format

FAST = ("--poll-interval", "0.001", "--polls-per-minute", "1000000")
# No second poll before the timeout: the first interval (30 s +/- 10 %) is past it, so the
# wait gives up right after the first poll (the 3 s leave room for a busy machine).
TIMES_OUT = ("--wait-timeout", "3", "--poll-interval", "30", "--polls-per-minute", "1000000")
# A wait that only a signal ends: polls an hour apart.
FOREVER = ("--wait-timeout", "7200", "--poll-interval", "3600")


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def _env(fake: FakeSevalla) -> dict[str, str | None]:
    return {"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url}


# --- wait ----------------------------------------------------------------------------------


async def test_wait_prints_the_finished_deployment_and_exits_0(fake: FakeSevalla, cli: Cli) -> None:
    app = fake.add_app()
    first = fake.add_deployment(app)  # waiting, inProgress, success: one step per GET
    second = fake.add_deployment(app)

    run, table = await asyncio.gather(
        cli("wait", str(app), str(first.id), *FAST, "--progress", "--output", "json"),
        cli("wait", str(app), str(second.id), *FAST, "--no-progress", "--output", "table"),
    )

    assert run.code == 0, run.err
    (line,) = run.lines()
    assert (line["id"], line["app_id"], line["status"]) == (str(first.id), str(app), "success")
    assert line["finished_at"] is not None
    changes = [row.split() for row in run.err.splitlines()]
    assert [c[1:] for c in changes] == [
        [status, "deployment", str(first.id)] for status in ("waiting", "inProgress", "success")
    ]
    assert all(c[0].endswith("s") for c in changes)  # each change with the time it was seen
    assert first.polls == 3
    assert table.code == 0, table.err
    assert table.err == ""  # no progress asked for, nothing to report
    header, row = table.out.splitlines()
    assert header.split() == ["ID", "STATUS", "TRIGGER", "CREATED", "FINISHED"]
    assert row.split()[:3] == [str(second.id), "success", "PROMOTION"]


async def test_wait_exits_1_when_the_deployment_did_not_succeed(
    fake: FakeSevalla, cli: Cli
) -> None:
    endings = ["failed", "cancelled", "skipped"]
    app = fake.add_app()
    deployments = [fake.add_deployment(app, script=["waiting", e]) for e in endings]

    runs = await asyncio.gather(*(cli("wait", str(app), str(d.id), *FAST) for d in deployments))

    for run, deployment, ending in zip(runs, deployments, endings, strict=True):
        assert run.code == 1
        assert run.lines()[0]["status"] == ending
        assert f"sevalla-async: deployment {deployment.id} ended {ending}" in run.err
        assert deployment.polls == 2


async def test_wait_timeout_exits_1_with_the_last_status_seen(fake: FakeSevalla, cli: Cli) -> None:
    app = fake.add_app()
    stuck = fake.add_deployment(app, script=["inProgress"])

    run = await cli("wait", str(app), str(stuck.id), *TIMES_OUT)

    assert run.code == 1
    assert [line["status"] for line in run.lines()] == ["inProgress"]  # the last state seen
    assert (
        f"sevalla-async: timed out: deployment {stuck.id} did not finish within the wait's 3s "
        "(it was last seen inProgress); it may still finish: run wait again to keep waiting"
    ) in run.err
    assert stuck.polls == 1


async def test_wait_bad_ids_and_unknown_deployment(fake: FakeSevalla, cli: Cli) -> None:
    app = fake.add_app()
    deployment = fake.add_deployment(app)

    bad_app, bad_deployment, unknown, no_option = await asyncio.gather(
        cli("wait", "nope", str(deployment.id)),
        cli("wait", str(app), "f00"),
        cli("wait", str(app), str(uuid.uuid4())),
        cli("wait", str(app), str(deployment.id), "--wait-timeout", "0"),
    )

    assert bad_app.code == 2
    assert "sevalla-async: error: APP: app_id: 'nope' is not a valid UUID" in bad_app.err
    assert bad_deployment.code == 2
    assert "DEPLOYMENT: deployment_id: 'f00' is not a valid UUID" in bad_deployment.err
    assert unknown.code == 1
    assert "NotFoundError 404: Deployment not found" in unknown.err
    assert no_option.code == 2
    assert "--wait-timeout: must be more than 0" in no_option.err
    assert len(fake.requests) == 1  # only the unknown one was asked about


async def test_ctrl_c_stops_waiting_not_the_deployment(fake: FakeSevalla) -> None:
    app = fake.add_app()
    running = fake.add_deployment(app, script=["waiting", "inProgress"])
    proc = await spawn("wait", str(app), str(running.id), *FAST, env=_env(fake))
    await wait_until(lambda: running.polls >= 3)  # polls 1 and 2 were surely seen

    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 130
    assert run.out == ""
    assert (
        f"sevalla-async: interrupted: stopped waiting for deployment {running.id} (last seen "
        "inProgress); stopping the wait does not cancel the deployment"
    ) in run.err
    assert not running.cancelled
    assert fake.requests_to("POST") == []


# --- promote --wait ------------------------------------------------------------------------


async def test_promote_wait_prints_each_final_status(fake: FakeSevalla, cli: Cli) -> None:
    first, second = fake.promote_requests(2, targets=2)

    run, table = await asyncio.gather(
        cli("promote", *promote_args(first), "--wait", *FAST, "--output", "json", "--progress"),
        cli("promote", *promote_args(second), "--wait", *FAST, "--output", "table"),
    )

    assert run.code == 0, run.err
    lines = run.lines()
    assert [line["target_app_id"] for line in lines] == [str(t) for t in first.target_app_ids]
    for line in lines:
        assert (line["status"], line["ok"], line["error"]) == ("success", True, None)
        assert line["pipeline_id"] == str(first.pipeline_id)
        deployment = fake.deployment(line["deployment_id"])
        assert str(deployment.app_id) == line["target_app_id"]
        assert deployment.polls == 3
    for target in first.target_app_ids:  # every status change, with its app
        shown = [row.split()[1] for row in run.err.splitlines() if f"of app {target}" in row]
        assert shown == ["waiting", "inProgress", "success"]
    assert run.err.splitlines()[-1] == "sevalla-async: 2 deployments: 2 success"
    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["TARGET", "APP", "DEPLOYMENT", "STATUS"]
    assert [row.split()[0::2] for row in rows] == [
        [str(t), "success"] for t in second.target_app_ids
    ]


async def test_promote_wait_exits_1_when_one_deployment_failed(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1, targets=3)
    doomed = request.target_app_ids[1]
    fake.script_deployments(["waiting", "inProgress", "failed"], app_id=doomed)

    run = await cli("promote", *promote_args(request), "--wait", *FAST)

    assert run.code == 1
    lines = run.lines()
    assert [line["status"] for line in lines] == ["success", "failed", "success"]
    assert [line["ok"] for line in lines] == [True, False, True]
    assert lines[1]["target_app_id"] == str(doomed)
    assert "sevalla-async: 3 deployments: 2 success, 1 failed" in run.err


async def test_promote_wait_timeout_prints_every_result(fake: FakeSevalla, cli: Cli) -> None:
    request, again = fake.promote_requests(2, targets=3)
    fake.script_deployments(["success"])
    for r in (request, again):
        fake.script_deployments(["waiting"], app_id=r.target_app_ids[0])

    run, table = await asyncio.gather(
        cli("promote", *promote_args(request), "--wait", *TIMES_OUT),
        cli("promote", *promote_args(again), "--wait", *TIMES_OUT, "--output", "table"),
    )

    assert run.code == 1
    first, *others = run.lines()
    stuck = request.target_app_ids[0]
    assert (first["target_app_id"], first["status"], first["ok"]) == (str(stuck), "waiting", False)
    assert first["error"]["type"] == "APITimeoutError"
    assert "did not finish before the wait's timeout" in first["error"]["message"]
    assert [(o["status"], o["ok"], o["error"]) for o in others] == [("success", True, None)] * 2
    assert "sevalla-async: 3 deployments: 2 success, 1 timed out" in run.err
    assert table.code == 1
    rows = table.out.splitlines()[1:]
    assert rows[0].startswith(str(again.target_app_ids[0]))
    assert rows[0].endswith("waiting (the wait timed out)")
    assert [row.split()[-1] for row in rows[1:]] == ["success", "success"]


async def test_waiting_options_need_wait(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    (request,) = fake.promote_requests(1)
    plan = write_plan(tmp_path / "plan.json", plan_of([request]))

    promote, many = await asyncio.gather(
        cli("promote", *promote_args(request), "--poll-interval", "1"),
        cli("promote-many", plan, "--wait-timeout", "60"),
    )

    assert promote.code == many.code == 2
    assert "sevalla-async: error: --poll-interval applies only with --wait" in promote.err
    assert "sevalla-async: error: --wait-timeout applies only with --wait" in many.err
    assert fake.requests == []


async def test_ctrl_c_during_promote_wait_reports_the_running_deployments(
    fake: FakeSevalla,
) -> None:
    (request,) = fake.promote_requests(1, targets=2)
    fake.script_deployments(["inProgress"])
    proc = await spawn(
        "promote",
        *promote_args(request),
        "--wait",
        *FAST,
        env=_env(fake),
    )

    def polled_twice() -> bool:
        deployments = [d for d in fake.state.deployments.values() if d.trigger == "PROMOTION"]
        return len(deployments) == 2 and all(d.polls >= 2 for d in deployments)

    await wait_until(polled_twice)
    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 130
    assert (
        f"sevalla-async: interrupted: pipeline {request.pipeline_id} was promoted; stopping "
        "the wait does not cancel its deployments, last seen:"
    ) in run.err
    lines = run.lines()  # piped: one JSON line a target on stdout, as data
    for target, line in zip(request.target_app_ids, lines, strict=True):
        (deployment,) = [
            d
            for d in fake.state.deployments.values()
            if d.app_id == target and d.trigger == "PROMOTION"
        ]
        assert f"  app {target}: deployment {deployment.id} inProgress" in run.err.splitlines()
        assert line == {
            "pipeline_id": str(request.pipeline_id),
            "source_app_id": str(request.source_app_id),
            "target_app_id": str(target),
            "deployment_id": str(deployment.id),
            "status": "inProgress",
            "ok": False,
            "interrupted": True,
        }


async def test_ctrl_c_before_any_poll_answered_still_names_the_deployments(
    fake: FakeSevalla,
) -> None:
    """The promote's reply names the deployments: once it came, an interruption reports
    them (not "may have been sent"), even before a poll answered."""
    (request,) = fake.promote_requests(1, targets=2)
    fake.inject(Fault.slow(3600), times=10, method="GET")
    proc = await spawn("promote", *promote_args(request), "--wait", *FAST, env=_env(fake))
    await wait_until(lambda: len(fake.requests_to("GET")) >= 1)  # the wait began: replied
    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 130
    assert "was promoted" in run.err
    assert "may have been sent" not in run.err
    made = {d.app_id: d.id for d in fake.state.deployments.values() if d.trigger == "PROMOTION"}
    for target in request.target_app_ids:
        assert f"  app {target}: deployment {made[target]} not polled yet" in run.err
    assert [
        (line["target_app_id"], line["deployment_id"], line["status"]) for line in run.lines()
    ] == [(str(t), str(made[t]), None) for t in request.target_app_ids]


# --- promote-many --wait -------------------------------------------------------------------


async def test_promote_many_wait_json_lines(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    requests = fake.promote_requests(4, targets=2)
    doomed = requests[1].target_app_ids[0]
    fake.script_deployments(["waiting", "inProgress", "failed"], app_id=doomed)
    fake.inject(
        Fault.error(503), method="POST", path=f"/pipelines/{requests[3].pipeline_id}/promote"
    )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))

    run, plain = await asyncio.gather(
        cli("promote-many", plan, "--wait", *FAST, "--concurrency", "2"),
        cli("promote-many", write_plan(tmp_path / "one.json", plan_of(requests[:1]))),
    )

    assert run.code == 1
    by_index = {line["index"]: line for line in run.lines()}
    assert sorted(by_index) == [0, 1, 2, 3]
    assert [by_index[i]["ok"] for i in range(4)] == [True, False, True, False]
    for i in (0, 1, 2):
        line = by_index[i]
        assert line["error"] is None
        assert [d["app_id"] for d in line["deployments"]] == [
            str(t) for t in requests[i].target_app_ids
        ]
        assert [d["deployment_id"] for d in line["deployments"]] == [
            p["deployment_id"] for p in line["promotions"]
        ]
        for d in line["deployments"]:
            assert d["status"] == fake.deployment(d["deployment_id"]).status
            assert d["error"] is None
    assert [d["status"] for d in by_index[0]["deployments"]] == ["success", "success"]
    assert [d["status"] for d in by_index[1]["deployments"]] == ["failed", "success"]
    assert by_index[3]["deployments"] is None  # the promotion failed: nothing to wait for
    assert by_index[3]["error"]["status"] == 503
    assert "sevalla-async: 4 promotions: 2 ok, 2 failed (entries 1, 3)" in run.err
    assert "sevalla-async: 6 deployments: 5 success, 1 failed" in run.err
    assert fake.max_in_flight <= 2
    assert plain.code == 0, plain.err
    assert "deployments" not in plain.lines()[0]  # without --wait the lines are unchanged


async def test_promote_many_wait_table(fake: FakeSevalla, cli: Cli, tmp_path: Path) -> None:
    requests = fake.promote_requests(2, targets=1)
    fake.script_deployments(["inProgress", "skipped"], app_id=requests[0].target_app_ids[0])
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))

    run = await cli("promote-many", plan, "--wait", *FAST, "--output", "table")

    assert run.code == 1
    rows = sorted(run.out.splitlines()[1:])
    assert [row.split()[:4] for row in rows] == [
        [str(i), result, str(r.pipeline_id), str(r.target_app_ids[0])]
        for i, (r, result) in enumerate(zip(requests, ["failed", "ok"], strict=True))
    ]
    assert [row.split()[-1] for row in rows] == ["skipped", "success"]


async def test_ctrl_c_during_promote_many_wait(fake: FakeSevalla, tmp_path: Path) -> None:
    requests = fake.promote_requests(3, targets=1)
    running = requests[0].target_app_ids[0]
    fake.script_deployments(["success"])
    fake.script_deployments(["inProgress"], app_id=running)
    fake.inject(
        Fault.slow(3600), method="POST", path=f"/pipelines/{requests[1].pipeline_id}/promote"
    )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    proc = await spawn(
        "promote-many",
        plan,
        "--wait",
        *FAST,
        "--concurrency",
        "2",
        env=_env(fake),
    )

    def stuck_and_polled() -> bool:
        polls = [fake.deployment(d).polls for d in fake.state.app_deployments[running][1:]]
        return len(fake.requests_to("POST")) == 2 and polls != [] and polls[0] >= 2

    await wait_until(stuck_and_polled)
    proc.send_signal(signal.SIGINT)
    run = await finish(proc)

    assert run.code == 130
    (report,) = run.lines()  # piped: --output json, so the report is a JSON line too
    assert report["interrupted"] is True
    assert (report["finished"], report["sent_without_reply"], report["not_sent"]) == (0, [1], [2])
    (waiting,) = report["waiting"]
    assert waiting["index"] == 0
    assert [d["status"] for d in waiting["deployments"]] == ["inProgress"]
    err = run.err.splitlines()
    assert "sevalla-async: interrupted: 0 of 3 promotions finished" in run.err
    assert (
        "sevalla-async: 1 promoted and being waited for: stopping the wait does not cancel "
        "their deployments, last seen:" in err
    )
    (deployment,) = fake.state.app_deployments[running][1:]
    assert f"  entry 0: app {running}: deployment {deployment} inProgress" in err
    assert "sevalla-async: 1 sent without a reply yet: they may have happened, check before " in (
        run.err
    )
    assert "sevalla-async: 1 not sent: entry 2" in err

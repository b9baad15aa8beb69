"""``sevalla-async reconcile`` against the test's FakeSevalla (run as in test_cli.py): the
verdict of each target of a promotion whose outcome is unknown, from GETs only; and the
exact command the Ctrl-C reports of ``promote`` and ``promote-many`` print, run as printed.

A promotion the fake makes then never answers (``Fault.act_then_fail("stall")``) is the
"sent, no reply" case; one it never makes (``fail_without_acting("stall")``) the other."""

from __future__ import annotations

import shlex
import signal
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import PromoteRequest
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import (
    Cli,
    Run,
    finish,
    make_cli,
    plan_of,
    promote_args,
    spawn,
    wait_until,
    write_plan,
)

pytestmark = pytest.mark.sevalla_loopback  # real sockets: the CLI against the fake

STALL = 3600.0  # the fake holds the reply this long: only the test's Ctrl-C ends the wait


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def env(fake: FakeSevalla) -> dict[str, str | None]:
    return {"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url}


def printed_commands(err: str) -> list[list[str]]:
    """Every ``sevalla-async reconcile ...`` command printed on stderr, as argv."""
    commands = []
    for line in err.splitlines():
        _, found, rest = line.partition("sevalla-async reconcile ")
        if found:
            commands.append(shlex.split("reconcile " + rest))
    return commands


def verdicts(run: Run) -> dict[str, dict[str, Any]]:
    return {line["target_app_id"]: line for line in run.lines()}


async def interrupted_promote(fake: FakeSevalla, *extra: str) -> tuple[PromoteRequest, Run]:
    """``promote`` (with ``extra`` arguments) stopped by Ctrl-C while its request hangs."""
    (request,) = fake.promote_requests(1, targets=2)
    proc = await spawn("promote", *promote_args(request), *extra, env=env(fake))
    await wait_until(lambda: fake.in_flight == 1)
    proc.send_signal(signal.SIGINT)
    return request, await finish(proc)


async def test_the_command_printed_by_a_ctrl_c_finds_the_promotion(
    fake: FakeSevalla, cli: Cli
) -> None:
    fake.inject(Fault.act_then_fail("stall", stall=STALL), method="POST")
    request, stopped = await interrupted_promote(fake)
    assert stopped.code == 130
    (command,) = printed_commands(stopped.err)
    posts = len(fake.requests_to("POST"))

    run = await cli(*command, "--output", "json")

    assert run.code == 0, run.err
    found = verdicts(run)
    assert list(found) == [str(t) for t in request.target_app_ids]
    for target, line in found.items():
        assert (line["verdict"], line["promoted"]) == ("promoted", True)
        assert str(fake.deployment(line["deployment_id"]).app_id) == target
        assert line["pipeline_id"] == str(request.pipeline_id)
        assert line["index"] == 0
    assert len(fake.requests_to("POST")) == posts == 1  # GETs only: nothing sent
    assert "2 targets: 2 promoted, 0 not promoted, 0 undecided" in run.err


async def test_a_promotion_never_made_is_not_promoted_once_settled(
    fake: FakeSevalla, cli: Cli
) -> None:
    fake.inject(Fault.fail_without_acting("stall", stall=STALL), method="POST")
    request, stopped = await interrupted_promote(fake, "--wait")  # Ctrl-C before the wait
    (command,) = printed_commands(stopped.err)

    early = await cli(*command, "--output", "json")
    settled = await cli(*command, "--settle", "0", "--output", "table")

    # within the settle period (default 120 s) the absence proves nothing yet: exit 1
    assert early.code == 1
    assert {line["verdict"] for line in early.lines()} == {"undecided"}
    assert all(line["promoted"] is None for line in early.lines())
    assert "run the same command again then" in early.err
    assert settled.code == 0, settled.err
    header, *rows = settled.out.splitlines()
    assert header.split()[:3] == ["ENTRY", "TARGET", "APP"]
    assert [row.split()[:4] for row in rows] == [
        ["0", str(t), "not", "promoted"] for t in request.target_app_ids
    ]
    assert len(fake.requests_to("POST")) == 1


async def test_promote_many_ctrl_c_prints_a_command_per_entry_in_flight(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(3, targets=1)
    for r in requests[1:]:
        fake.inject(
            Fault.act_then_fail("stall", stall=STALL),
            method="POST",
            path=f"/pipelines/{r.pipeline_id}/promote",
        )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    proc = await spawn("promote-many", plan, env=env(fake))
    await wait_until(lambda: fake.in_flight == 2 and len(fake.requests) == 3)
    proc.send_signal(signal.SIGINT)
    stopped = await finish(proc)
    commands = printed_commands(stopped.err)

    runs = [await cli(*command, "--output", "json") for command in commands]

    assert stopped.code == 130
    assert len(commands) == 2
    assert [run.code for run in runs] == [0, 0]
    found = {target: line for run in runs for target, line in verdicts(run).items()}
    assert set(found) == {str(r.target_app_ids[0]) for r in requests[1:]}
    assert {line["verdict"] for line in found.values()} == {"promoted"}
    assert len(fake.requests_to("POST")) == 3


async def test_a_plan_file_is_reconciled_entry_by_entry(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    made, never = fake.promote_requests(2, targets=2)
    sent_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    run_made = await cli("promote", *promote_args(made))
    assert run_made.code == 0, run_made.err
    plan = write_plan(tmp_path / "plan.json", plan_of([made, never]))
    stamp = sent_at.isoformat()  # +00:00 works as well as Z

    run = await cli("reconcile", plan, "--sent-at", stamp, "--settle", "0", "--output", "json")

    assert run.code == 0, run.err
    lines = run.lines()
    assert [(line["index"], line["verdict"]) for line in lines] == [
        (0, "promoted"),
        (0, "promoted"),
        (1, "not_promoted"),
        (1, "not_promoted"),
    ]
    assert all(line["deployment_id"] is None for line in lines[2:])
    assert all(line["reason"] for line in lines)
    assert len(fake.requests_to("POST")) == 1  # the test's own promote, nothing more


WHEN = ("--sent-at", "2025-01-31T09:30:00Z")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (lambda ids: [*ids[:2], *WHEN], "give PLAN, or all of --pipeline, --source and --target"),
        (lambda ids: ["plan.json", *ids, *WHEN], "give PLAN or --pipeline/--source/--target"),
        (lambda ids: ids, "the following arguments are required: --sent-at"),
        (lambda ids: [*ids, "--sent-at", "2025-01-31T09:30:00"], "has no UTC offset"),
        (lambda ids: [*ids, "--sent-at", "yesterday"], "expected an ISO 8601 time"),
        (
            lambda ids: [*ids[:4], "--target", "nope", *WHEN],
            "--target: target_app_ids[0]: 'nope' is not a valid UUID",
        ),
    ],
    ids=["flags-missing", "plan-and-flags", "no-sent-at", "naive-time", "bad-time", "bad-id"],
)
async def test_bad_arguments_exit_2_and_send_nothing(
    fake: FakeSevalla, cli: Cli, argv: Callable[[list[str]], list[str]], message: str
) -> None:
    (request,) = fake.promote_requests(1)
    ids = ["--pipeline", str(request.pipeline_id), "--source", str(request.source_app_id)]
    ids += ["--target", str(request.target_app_ids[0])]

    run = await cli("reconcile", *argv(ids))

    assert run.code == 2
    assert message in run.err
    assert fake.requests == []


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    from sevalla_async._cli import main

    with pytest.raises(SystemExit):
        main(["reconcile", "--help"])
    text = capsys.readouterr().out
    assert "0    every target is decided" in text
    assert "1    some target is undecided" in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "reconcile: 0 every target decided, 1 some target undecided" in capsys.readouterr().out

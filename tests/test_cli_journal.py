"""``promote-many --journal`` / ``--resume`` end to end against a FakeSevalla on 127.0.0.1:
the CLI, in a real subprocess where it is stopped (``kill -9``, SIGTERM, SIGINT, a closed
pipe), then resumed: every target ends promoted exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import PromoteRequest
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import (
    GUARD,
    Cli,
    finish,
    make_cli,
    piped_into_head_1,
    plan_of,
    spawn,
    wait_until,
    write_plan,
)

# The subprocess lives in real time: the fake dates its deployments (and its Date header)
# with the real wall clock too, so the CLI's reconciliation sees one consistent clock.
pytestmark = [pytest.mark.sevalla_loopback, pytest.mark.sevalla_fake(wall_clock=time.time)]

SETTLE = ("--reconcile-settle", "0", "--reconcile-timeout", "30")


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def promotions_of(fake: FakeSevalla, target: uuid.UUID) -> int:
    """How many deployments of ``target`` a promotion created."""
    return sum(
        1
        for d in fake.state.app_deployments.get(target, [])
        if fake.state.deployments[d].trigger == "PROMOTION"
    )


def assert_each_target_promoted_once(fake: FakeSevalla, requests: list[PromoteRequest]) -> None:
    counts = {t: promotions_of(fake, t) for r in requests for t in r.target_app_ids}
    assert counts == dict.fromkeys(counts, 1)


def journal_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def results_by_index(events: list[dict[str, Any]]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for event in events:
        if event["event"] == "result":
            found.setdefault(event["index"], []).append(event["state"])
    return found


def slow_path(request: PromoteRequest) -> str:
    return f"/pipelines/{request.pipeline_id}/promote"


async def start(fake: FakeSevalla, *args: str) -> asyncio.subprocess.Process:
    return await spawn(
        "promote-many",
        *args,
        env={"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url},
    )


async def test_a_journal_records_each_entry_as_it_happens(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(4, targets=2)
    fake.inject(Fault.error(409, "conflict"), method="POST", path=slow_path(requests[1]))
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"

    run = await cli("promote-many", plan, "--journal", str(journal))

    assert run.code == 1
    assert f"journal: {journal}" in run.err
    events = journal_events(journal)
    assert events[0] == {"event": "plan", "format": 1, "entries": 4, "resumed": False}
    assert results_by_index(events) == {
        0: ["promoted"],
        1: ["rejected"],
        2: ["promoted"],
        3: ["promoted"],
    }
    sent = [e["index"] for e in events if e["event"] == "sent"]
    assert sorted(sent) == [0, 1, 2, 3]
    for event in events:  # each "sent" comes before the result of its entry
        if event["event"] == "result":
            assert sent.index(event["index"]) < events.index(event)
    rejected = next(e for e in events if e["event"] == "result" and e["index"] == 1)
    assert rejected["error"]["status"] == 409
    assert rejected["error"]["request_id"] in {r.request_id for r in fake.requests}
    by_line = {line["index"]: line for line in run.lines()}
    promoted = next(e for e in events if e["event"] == "result" and e["index"] == 0)
    assert promoted["promotions"] == by_line[0]["promotions"]
    assert promoted["sent_at"] is not None

    # resumed: nothing is sent again; the results come from the journal
    posts = len(fake.requests_to("POST", "/promote"))
    again = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)
    assert again.code == 1
    assert len(fake.requests_to("POST", "/promote")) == posts
    lines = {line["index"]: line for line in again.lines()}
    assert sorted(lines) == [0, 1, 2, 3]
    assert all(line["from_journal"] for line in lines.values())
    assert lines[0]["promotions"] == by_line[0]["promotions"]
    assert lines[1]["state"] == "rejected"
    assert lines[1]["error"]["status"] == 409
    assert "4 taken from the journal, not sent again" in again.err
    assert_each_target_promoted_once(fake, [requests[0], *requests[2:]])
    assert all(promotions_of(fake, t) == 0 for t in requests[1].target_app_ids)


async def test_kill_9_mid_run_then_resume_promotes_every_target_exactly_once(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(8, targets=2)
    # 0 and 1 finish; 2 is made but its reply never comes; 3 is never acted on; 4-7 wait
    fake.inject(
        Fault.act_then_fail("stall", stall=3600), method="POST", path=slow_path(requests[2])
    )
    fake.inject(
        Fault.fail_without_acting("stall", stall=3600), method="POST", path=slow_path(requests[3])
    )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    proc = await start(fake, plan, "--concurrency", "2", "--journal", str(journal))
    await wait_until(lambda: fake.in_flight == 2 and len(fake.requests) == 4)

    proc.kill()  # SIGKILL: no handler, no report, no flush at exit
    await asyncio.wait_for(proc.wait(), GUARD)
    assert proc.returncode == -signal.SIGKILL
    events = journal_events(journal)
    assert results_by_index(events) == {0: ["promoted"], 1: ["promoted"]}
    assert sorted(e["index"] for e in events if e["event"] == "sent") == [0, 1, 2, 3]
    fake.clear_faults()

    run = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert run.code == 0, run.err
    lines = {line["index"]: line for line in run.lines()}
    assert sorted(lines) == list(range(8))
    assert all(line["ok"] for line in lines.values())
    assert lines[0]["from_journal"]
    assert lines[1]["from_journal"]
    for i, request in enumerate(requests):  # each line names the deployment each target got
        made = {p["target_app_id"] for p in lines[i]["promotions"]}
        assert made == {str(t) for t in request.target_app_ids}
    assert_each_target_promoted_once(fake, requests)
    # entry 2 was found by reconciling, not sent again; entry 3 was sent again
    posts = [r.path for r in fake.requests_to("POST", "/promote")]
    assert sum(p.endswith(slow_path(requests[2])) for p in posts) == 1
    assert sum(p.endswith(slow_path(requests[3])) for p in posts) == 2
    final = results_by_index(journal_events(journal))
    assert all(states[-1] == "promoted" for states in final.values())
    assert sorted(final) == list(range(8))


@pytest.mark.parametrize(
    ("stop", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
async def test_a_stop_signal_reports_every_entry_once_and_resume_finishes(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, stop: signal.Signals, status: int
) -> None:
    requests = fake.promote_requests(6, targets=1)
    for slow in requests[2:]:  # 0 and 1 finish; 2 and 3 hang in flight; 4 and 5 wait
        fake.inject(
            Fault.fail_without_acting("stall", stall=3600), method="POST", path=slow_path(slow)
        )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    proc = await start(fake, plan, "--concurrency", "2", "--journal", str(journal))
    await wait_until(lambda: fake.in_flight == 2 and len(fake.requests) == 4)

    proc.send_signal(stop)
    run = await finish(proc)

    assert run.code == status
    *results, report = run.lines()
    assert sorted(line["index"] for line in results) == [0, 1]
    assert report["sent_without_reply"] == [2, 3]
    assert report["not_sent"] == [4, 5]
    events = journal_events(journal)
    assert results_by_index(events) == {
        0: ["promoted"],
        1: ["promoted"],
        2: ["unknown"],
        3: ["unknown"],
        4: ["not_sent"],
        5: ["not_sent"],
    }
    in_flight = [e for e in events if e["event"] == "result" and e["state"] == "unknown"]
    assert all(e["sent_at"] for e in in_flight)  # the time the request left: to reconcile
    fake.clear_faults()

    again = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert again.code == 0, again.err
    assert sorted(line["index"] for line in again.lines()) == list(range(6))
    assert_each_target_promoted_once(fake, requests)


async def test_resume_reconciles_an_unknown_outcome_instead_of_sending_it_again(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(3, targets=2)
    fake.inject(
        Fault.act_then_fail("error", status=502), method="POST", path=slow_path(requests[0])
    )
    fake.inject(Fault.fail_without_acting("error"), method="POST", path=slow_path(requests[1]))
    # entry 2: only its first target is made before the failure
    partial = requests[2].target_app_ids[0]
    fake.inject(
        Fault.act_then_fail("disconnect", targets=[partial]),
        method="POST",
        path=slow_path(requests[2]),
    )
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"

    first = await cli("promote-many", plan, "--journal", str(journal))

    assert first.code == 1
    assert all(line["state"] == "unknown" for line in first.lines())
    posts = len(fake.requests_to("POST", "/promote"))
    assert posts == 3

    run = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert run.code == 0, run.err
    assert_each_target_promoted_once(fake, requests)
    sent = [r for r in fake.requests_to("POST", "/promote")][posts:]
    # 0 was made: found, not sent; 1 was not: sent again; 2: only its missing target
    pipelines = sorted(r.path.split("/")[-2] for r in sent)
    assert pipelines == sorted(str(requests[i].pipeline_id) for i in (1, 2)), run.err
    again = next(r for r in sent if str(requests[2].pipeline_id) in r.path)
    assert again.json()["target_app_ids"] == [str(requests[2].target_app_ids[1])]
    lines = {line["index"]: line for line in run.lines()}
    assert [p["target_app_id"] for p in lines[2]["promotions"]] == [
        str(t) for t in requests[2].target_app_ids
    ]
    assert results_by_index(journal_events(journal))[0] == ["unknown", "promoted"]


async def test_resume_refuses_a_changed_plan_and_sends_nothing(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    requests = fake.promote_requests(2, targets=1)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    assert (await cli("promote-many", plan, "--journal", str(journal))).code == 0
    posts = len(fake.requests)
    other = write_plan(tmp_path / "other.json", plan_of(fake.promote_requests(2, targets=1)))

    run = await cli("promote-many", other, "--resume", str(journal))
    missing = await cli("promote-many", plan, "--resume", str(tmp_path / "nope.jsonl"))
    both = await cli(
        "promote-many", plan, "--resume", str(journal), "--journal", str(tmp_path / "x.jsonl")
    )

    assert run.code == missing.code == both.code == 2
    assert "the plan changed since the journal was written; nothing was sent" in run.err
    assert "--resume:" in missing.err
    assert "cannot read the journal" in missing.err
    assert "--journal: a resumed run appends to its --resume journal" in both.err
    assert len(fake.requests) == posts


async def test_a_closed_pipe_ends_with_status_0_and_a_complete_journal(
    fake: FakeSevalla, tmp_path: Path
) -> None:
    requests = fake.promote_requests(60, targets=1)
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"
    out, err = await piped_into_head_1(
        fake, "promote-many", str(plan), "--journal", str(journal), "--concurrency", "2"
    )

    assert len(out.splitlines()) == 1
    assert "status=0" in err.splitlines()
    assert "Traceback" not in err
    results = results_by_index(journal_events(journal))
    assert sorted(results) == list(range(60))  # every entry, exactly once
    assert all(len(states) == 1 for states in results.values())
    # what reached the API is promoted, or unknown when the pipe closed while it was in
    # flight (unknown: it may or may not have arrived)
    promoted = sum(states == ["promoted"] for states in results.values())
    unknown = sum(states == ["unknown"] for states in results.values())
    assert promoted <= len(fake.requests_to("POST", "/promote")) <= promoted + unknown


ODD_MESSAGES = {
    "surrogate": "lone \ud800 surrogate",
    "control": "clear\x1b[2J\x1b[Hscreen\rover\x07",
    "huge": "y" * 200_000,
}


@pytest.mark.parametrize("output", ["json", "table"])
async def test_odd_server_text_never_crashes_the_output(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, output: str
) -> None:
    requests = fake.promote_requests(5, targets=1)
    for request, message in zip(requests, ODD_MESSAGES.values(), strict=False):
        fake.inject(Fault.error(409, message), method="POST", path=slow_path(request))
    nested = "[" * 100_000 + "]" * 100_000  # a JSON body nested past any parser's depth
    fake.inject(Fault(status=409, body=nested), method="POST", path=slow_path(requests[3]))
    deep = '{"data": ' * 5000 + '{"message": "deep", "status": 409}' + "}" * 5000
    fake.inject(Fault(status=409, body=deep), method="POST", path=slow_path(requests[4]))
    plan = write_plan(tmp_path / "plan.json", plan_of(requests))
    journal = tmp_path / "run.jsonl"

    run = await cli("promote-many", plan, "--output", output, "--journal", str(journal))

    assert run.code == 1
    assert "5 promotions: 0 ok, 5 failed" in run.err
    assert "\x1b" not in run.out + run.err
    assert "\ud800" not in run.out
    assert len(run.out) < 20_000  # huge messages are cut
    assert results_by_index(journal_events(journal)) == {i: ["rejected"] for i in range(5)}
    if output == "json":
        lines = {line["index"]: line for line in run.lines()}
        assert lines[0]["error"]["message"] == "lone \ufffd surrogate"
        assert lines[1]["error"]["message"] == "clear\\x1b[2J\\x1b[Hscreen\\x0dover\\x07"
        assert lines[2]["error"]["message"].endswith("... (199500 more characters)")
        assert all(lines[i]["error"]["status"] == 409 for i in range(5))
    else:
        assert "lone \ufffd surrogate" in run.out

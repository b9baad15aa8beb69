"""``promote-many`` / ``release --resume`` from a journal's per-target record: promotions
the journal holds are not looked for again, a re-sent target is judged in the window of its
own send, and with ``--wait`` every entry with deployments is waited for."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import PromoteRequest
from sevalla_async._cli._journal import fingerprint, load
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import GUARD, Cli, make_cli, plan_of, wait_until, write_plan
from .test_cli_journal import SETTLE, promotions_of, start

# The CLI and the fake share the real wall clock: the journal's times are real ones.
pytestmark = [pytest.mark.sevalla_loopback, pytest.mark.sevalla_fake(wall_clock=time.time)]

FAST = ("--poll-interval", "0.02")


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def backdate_history(fake: FakeSevalla, minutes: float = 60) -> None:
    """Every deployment so far is ``minutes`` old: the history reaches back past any
    window the test's journal opens."""
    for deployment in fake.state.deployments.values():
        deployment.created_at = _now() - timedelta(minutes=minutes)


def promoted_at(
    fake: FakeSevalla, request: PromoteRequest, target: uuid.UUID, at: datetime
) -> uuid.UUID:
    """Promote ``target`` (as ``request`` would) in the fake, dated ``at``."""
    (made,) = fake.state.promote(request.source_app_id, [target])
    made.created_at = at
    return made.id


def write_journal(path: Path, *events: dict[str, Any]) -> None:
    lines = [{"event": "plan", "format": 1, "entries": 1, "resumed": False}, *events]
    path.write_text("".join(json.dumps(e) + "\n" for e in lines))


def sent(request: PromoteRequest, at: datetime, *, wave: int | None = None) -> dict[str, Any]:
    key = "0" if wave is None else f"{wave}:0"
    return {
        "event": "sent",
        "key": key,
        "index": 0,
        "wave": wave,
        "fingerprint": fingerprint(request),
        "at": at.isoformat(),
    }


def result(
    request: PromoteRequest,
    state: str,
    promotions: dict[uuid.UUID, uuid.UUID] | None,
    sent_at: datetime | None,
    *,
    wave: int | None = None,
) -> dict[str, Any]:
    return {
        **sent(request, sent_at or _now(), wave=wave),
        "event": "result",
        "state": state,
        "promotions": None
        if promotions is None
        else [{"target_app_id": str(t), "deployment_id": str(d)} for t, d in promotions.items()],
        "sent_at": None if sent_at is None else sent_at.isoformat(),
        "error": None,
    }


async def test_release_resume_keeps_the_promotions_its_journal_holds(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    # a 0.2 journal: reconciling found A promoted, then B was sent again and the run was
    # killed before B's request left; A's promotion is older than B's re-send
    request = fake.promote_requests(1, targets=2)[0]
    a, b = request.target_app_ids
    backdate_history(fake)
    first = _now() - timedelta(minutes=10)
    made_a = promoted_at(fake, request, a, first + timedelta(seconds=1))
    plan = write_plan(tmp_path / "waves.json", [plan_of([request])])
    journal = tmp_path / "release.jsonl"
    write_journal(
        journal,
        sent(request, first, wave=0),
        result(request, "promoted", {a: made_a}, None, wave=0),
        sent(request, first + timedelta(minutes=5), wave=0),
    )

    run = await cli("release", plan, "--resume", str(journal), *SETTLE, *FAST)

    assert run.code == 0, run.err
    assert promotions_of(fake, a) == 1  # kept as the journal has it, not sent again
    assert promotions_of(fake, b) == 1
    final = load(journal)["0:0"]
    assert final.state is not None
    assert final.state.value == "promoted"
    assert {o.target_app_id: o.state.value for o in final.targets} == {
        a: "promoted",
        b: "promoted",
    }


async def test_kill_9_during_a_resumes_resend_then_resume_judges_it_in_its_own_window(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    a, b = request.target_app_ids
    backdate_history(fake)
    first = _now() - timedelta(minutes=10)
    promoted_at(fake, request, a, first + timedelta(seconds=1))  # B was never made then
    plan = write_plan(tmp_path / "plan.json", plan_of([request]))
    journal = tmp_path / "run.jsonl"
    write_journal(journal, sent(request, first), result(request, "unknown", None, first))
    # the resume re-sends B: it is made, the reply never comes, the process is killed
    fake.inject(
        Fault.act_then_fail("stall", stall=3600),
        method="POST",
        path=f"/pipelines/{request.pipeline_id}/promote",
    )
    proc = await start(fake, plan, "--resume", str(journal), *SETTLE)
    await wait_until(lambda: fake.in_flight == 1 and promotions_of(fake, b) == 1)
    proc.kill()
    await asyncio.wait_for(proc.wait(), GUARD)
    assert proc.returncode == -signal.SIGKILL
    fake.clear_faults()
    resent = [e for e in map(json.loads, journal.read_text().splitlines()) if e["event"] == "sent"]

    run = await cli("promote-many", plan, "--resume", str(journal), *SETTLE)

    assert run.code == 0, run.err
    assert promotions_of(fake, a) == 1
    assert promotions_of(fake, b) == 1  # found in its re-send's window: not sent a third time
    assert resent[-1]["targets"] == [str(b)]  # journaled before the re-send left
    final = load(journal)["0"]
    assert {o.target_app_id: o.state.value for o in final.targets} == {
        a: "promoted",
        b: "promoted",
    }
    by_target = {o.target_app_id: o.sent_at for o in final.targets}
    assert by_target[a] is not None
    assert by_target[b] is not None
    assert by_target[b] > by_target[a]  # each target keeps its own send


async def test_wait_resume_waits_for_entries_from_the_journal_and_reconciled(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    recorded, reconciled = fake.promote_requests(2, targets=1)
    backdate_history(fake)
    first = _now() - timedelta(minutes=10)
    fake.script_deployments(["inProgress", "failed"], app_id=recorded.target_app_ids[0])
    made = promoted_at(fake, recorded, recorded.target_app_ids[0], first)
    fake.script_deployments(["inProgress", "failed"], app_id=reconciled.target_app_ids[0])
    promoted_at(fake, reconciled, reconciled.target_app_ids[0], first + timedelta(seconds=1))
    plan = write_plan(tmp_path / "plan.json", plan_of([recorded, reconciled]))
    journal = tmp_path / "run.jsonl"
    second = {**sent(reconciled, first), "key": "1", "index": 1}
    write_journal(
        journal,
        sent(recorded, first),
        result(recorded, "promoted", {recorded.target_app_ids[0]: made}, first),
        second,  # killed before its result: unknown, reconciled now
    )
    posts = len(fake.requests_to("POST"))

    run = await cli(
        "promote-many",
        plan,
        "--resume",
        str(journal),
        "--wait",
        *SETTLE,
        *FAST,
        "--output",
        "json",
    )

    assert run.code == 1, run.err  # the failed deployments fail the run, as a fresh one
    assert len(fake.requests_to("POST")) == posts  # nothing sent again
    lines = {line["index"]: line for line in run.lines() if "index" in line}
    for index in (0, 1):
        statuses = [d["status"] for d in lines[index]["deployments"]]
        assert statuses == ["failed"], lines[index]
    assert "2 ok" not in run.err


def test_a_journal_without_targets_loads_per_target(fake: FakeSevalla, tmp_path: Path) -> None:
    # 0.2: reconciling found A and wrote a step; B was then sent again (no targets named)
    request = fake.promote_requests(1, targets=2)[0]
    a, b = request.target_app_ids
    first = _now() - timedelta(minutes=10)
    again = first + timedelta(minutes=5)
    journal = tmp_path / "run.jsonl"
    deployment = uuid.uuid4()
    write_journal(
        journal,
        sent(request, first),
        result(request, "unknown", {a: deployment}, first),
        sent(request, again),
    )

    outcomes = load(journal)["0"].outcomes(request)

    assert [(o.target_app_id, o.state.value, o.deployment_id) for o in outcomes] == [
        (a, "promoted", deployment),
        (b, "unknown", None),
    ]
    assert outcomes[1].sent_at == again  # the re-send's window, not the first request's


def test_a_resend_naming_its_targets_overrides_only_those(
    fake: FakeSevalla, tmp_path: Path
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    a, b = request.target_app_ids
    first = _now() - timedelta(minutes=10)
    again = first + timedelta(minutes=5)
    deployment = uuid.uuid4()
    step = result(request, "unknown", {a: deployment}, first)
    step["targets"] = [
        {
            "target_app_id": str(a),
            "state": "promoted",
            "sent_at": first.isoformat(),
            "deployment_id": str(deployment),
        },
        {"target_app_id": str(b), "state": "not_sent", "sent_at": None, "deployment_id": None},
    ]
    journal = tmp_path / "run.jsonl"
    write_journal(
        journal, sent(request, first), step, {**sent(request, again), "targets": [str(b)]}
    )

    outcomes = load(journal)["0"].outcomes(request)

    assert [(o.state.value, o.sent_at) for o in outcomes] == [
        ("promoted", first),
        ("unknown", again),
    ]

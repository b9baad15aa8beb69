"""Attacks on the CLI's promises (never promoted twice, one error shape, no key leaked):
each test here failed before the fix it names."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import PromoteRequest
from sevalla_async.testing import FakeSevalla

from .test_cli import Cli, make_cli, plan_of, write_plan
from .test_cli_journal import SETTLE, promotions_of
from .test_cli_resume_per_target import (
    _now,
    backdate_history,
    promoted_at,
    result,
    sent,
    write_journal,
)

pytestmark = [pytest.mark.sevalla_loopback, pytest.mark.sevalla_fake(wall_clock=time.time)]

FAST = ("--poll-interval", "0.02")


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def _targets(outcomes: dict[uuid.UUID, tuple[str, uuid.UUID | None]]) -> list[dict[str, Any]]:
    return [
        {
            "target_app_id": str(t),
            "state": state,
            "sent_at": _now().isoformat(),
            "deployment_id": None if d is None else str(d),
        }
        for t, (state, d) in outcomes.items()
    ]


def _partly_rejected(fake: FakeSevalla, tmp_path: Path) -> tuple[PromoteRequest, str, Path]:
    """A release journal whose entry's target A was promoted and B refused (a resume's
    re-send of B rejected after reconciling found A): the plan and the journal."""
    request = fake.promote_requests(1, targets=2)[0]
    a, b = request.target_app_ids
    backdate_history(fake)
    first = _now() - timedelta(minutes=10)
    made_a = promoted_at(fake, request, a, first + timedelta(seconds=1))
    plan = write_plan(tmp_path / "waves.json", [plan_of([request])])
    journal = tmp_path / "release.jsonl"
    rejected = result(request, "rejected", {a: made_a}, first, wave=0)
    rejected["targets"] = _targets({a: ("promoted", made_a), b: ("rejected", None)})
    rejected["error"] = {"type": "APIError", "status": 422, "message": "refused"}
    write_journal(journal, sent(request, first, wave=0), rejected)
    return request, plan, journal


@pytest.mark.parametrize("skip", ["--skip-current", "--no-skip-current"])
async def test_release_resume_does_not_send_again_a_target_a_partly_rejected_entry_promoted(
    fake: FakeSevalla, cli: Cli, tmp_path: Path, skip: str
) -> None:
    request, plan, journal = _partly_rejected(fake, tmp_path)
    a, b = request.target_app_ids

    run = await cli("release", plan, "--resume", str(journal), skip, *SETTLE, *FAST)

    assert run.code == 0, run.err
    assert promotions_of(fake, a) == 1  # the journal shows it promoted: not sent again
    assert promotions_of(fake, b) == 1  # refused before: sent again
    sent_now = fake.requests_to("POST", f"/pipelines/{request.pipeline_id}/promote")
    assert [json.loads(r.body)["target_app_ids"] for r in sent_now] == [[str(b)]]


@pytest.mark.parametrize(
    "extra",
    [
        ("--sent-at", "9999-12-31T23:59:59Z"),  # the window's end overflowed
        ("--sent-at", "0001-01-01T00:00:00+14:00"),  # before year 1 in UTC
        ("--sent-at", "2025-01-31T09:30:00Z", "--settle", "inf"),
        ("--sent-at", "2025-01-31T09:30:00Z", "--timeout", "inf"),
    ],
)
async def test_reconcile_out_of_range_times_are_usage_errors_not_tracebacks(
    fake: FakeSevalla, cli: Cli, extra: tuple[str, ...]
) -> None:
    request = fake.promote_requests(1)[0]
    args = ["--pipeline", str(request.pipeline_id), "--source", str(request.source_app_id)]

    run = await cli("reconcile", *args, "--target", str(request.target_app_ids[0]), *extra)

    assert run.code == 2, run.err
    assert "Traceback" not in run.err
    assert "error: argument" in run.err
    assert fake.requests == []


async def test_a_settle_of_millennia_is_a_usage_error_not_a_traceback(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    request = fake.promote_requests(1)[0]
    args = ["--pipeline", str(request.pipeline_id), "--source", str(request.source_app_id)]
    when = ("--sent-at", _now().isoformat(), "--settle", "1e12")
    plan = write_plan(tmp_path / "plan.json", plan_of([request]))
    journal = tmp_path / "run.jsonl"
    journal.write_text("")

    run = await cli("reconcile", *args, "--target", str(request.target_app_ids[0]), *when)
    settle = ("--reconcile-settle", "1e12")
    resumed = await cli("promote-many", plan, "--resume", str(journal), *settle)

    for each in (run, resumed):
        assert each.code == 2, each.err
        assert "must be at most 1e9" in each.err
    assert fake.requests == []

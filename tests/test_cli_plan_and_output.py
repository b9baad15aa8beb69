"""The CLI's pure parts (plan validation, output, progress, redaction) with plain values, and
its fan-out seam through the in-process fake."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import uuid
from contextlib import aclosing
from datetime import datetime, timezone
from typing import Any

import pytest

from sevalla_async import (
    APIConnectionError,
    FanoutError,
    NotFoundError,
    PromoteRequest,
    Promotion,
    RateLimitError,
    SevallaClient,
)
from sevalla_async._cli import main
from sevalla_async._cli._logging import RedactingFormatter, configure_logging
from sevalla_async._cli._output import deployment_json, error_json, render_table, short_error
from sevalla_async._cli._plan import PlanError, parse_plan
from sevalla_async._cli._plan_runner import PlanOutcome, run_plan
from sevalla_async._cli._progress import ProgressLine, format_duration, progress_text
from sevalla_async._cli._reports import format_indexes
from sevalla_async._cli._rows import outcome_json, outcome_rows
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

from .helpers import make_deployment

A, B, C, D = (str(uuid.uuid4()) for _ in range(4))


# --- plan files ----------------------------------------------------------------------------


def test_parse_plan_keeps_order_and_accepts_uuids_in_any_case() -> None:
    text = json.dumps(
        [
            {"pipeline_id": A, "source_app_id": B, "target_app_ids": [C, D]},
            {"pipeline_id": A.upper(), "source_app_id": C, "target_app_ids": [D]},
        ]
    )
    assert parse_plan(text) == [
        PromoteRequest(A, B, [C, D]),
        PromoteRequest(A, C, [D]),
    ]


def test_parse_plan_reports_every_bad_entry() -> None:
    entries: list[Any] = [
        {"pipeline_id": A, "source_app_id": B, "target_app_ids": [C]},
        {"pipeline_id": A, "source_app_id": B, "target_app_ids": [C, "x"]},
        {"pipeline_id": A, "source_app_id": B},
        None,
        {"pipeline_id": A, "source_app_id": B, "target_app_ids": [B]},
        {"pipeline_id": A, "source_app_id": B, "target_app_ids": [C, C]},
        {"pipeline_id": A, "source_app_id": B, "target_app_ids": C},
        {"pipeline_id": A.upper(), "source_app_id": B, "target_app_ids": [C]},
    ]
    with pytest.raises(PlanError) as info:
        parse_plan(json.dumps(entries), source="p.json")
    assert [p.split(":")[0:2] for p in info.value.problems] == [
        ["entry 1", " target_app_ids[1]"],
        ["entry 2", " target_app_ids"],
        [
            "entry 3",
            " expected an object with pipeline_id, source_app_id and target_app_ids, got NoneType",
        ],
        ["entry 4", " target_app_ids[0]"],
        ["entry 5", " target_app_ids[1]"],
        ["entry 6", " target_app_ids"],
        ["entry 7", " target_app_ids"],
    ]
    assert "required field is missing" in info.value.problems[1]
    assert "is the source app" in info.value.problems[3]
    assert "duplicate id" in info.value.problems[4]
    assert "expected a list of UUIDs, got str" in info.value.problems[5]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[", "p.json: not valid JSON (line 1, column 2: Expecting value)"),
        ("[1,\n 2,", "p.json: not valid JSON (line 2, column 4: Expecting value)"),
        (" [{}", "p.json: not valid JSON (line 1, column 5"),
        ("{}\n{", "p.json: line 2 is not valid JSON (column 2"),
        ('"x"', "entry 0: expected an object with pipeline_id"),
        ("{}", "entry 0: pipeline_id: required field is missing"),
        ("3", "entry 0: expected an object"),
    ],
)
def test_parse_plan_refuses_what_is_not_a_plan(text: str, problem: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_plan(text, source="p.json")
    (only,) = info.value.problems
    assert problem in only


def test_parse_plan_reads_json_lines() -> None:
    a = {"pipeline_id": A, "source_app_id": B, "target_app_ids": [C]}
    b = {"pipeline_id": C, "source_app_id": B, "target_app_ids": [A]}
    text = f"{json.dumps(a)}\n\n  {json.dumps(b)}\n"
    assert parse_plan(text) == [PromoteRequest.from_dict(a), PromoteRequest.from_dict(b)]
    # the same checks as a JSON list: entries count from 0, blank lines skipped
    with pytest.raises(PlanError) as info:
        parse_plan(f"{json.dumps(a)}\n\n{json.dumps(a)}\n")
    assert info.value.problems == [
        f"entry 1: target_app_ids: {C} is already a target of entry 0 (same pipeline and "
        "source): a promotion is not idempotent, so it would be deployed twice; remove it "
        "from one of them"
    ]
    assert parse_plan("") == parse_plan("\n  \n") == []


def test_parse_plan_empty_list_is_valid() -> None:
    assert parse_plan("[]") == []


# --- output --------------------------------------------------------------------------------


def test_format_indexes_collapses_runs() -> None:
    assert format_indexes([]) == ""
    assert format_indexes([3]) == "3"
    assert format_indexes([5, 0, 1, 2, 7, 9, 8, 2]) == "0-2, 5, 7-9"


def test_render_table_aligns_columns() -> None:
    assert render_table(("A", "LONGER"), [("xyz", "1"), ("w", "22")]) == (
        "A    LONGER\nxyz  1\nw    22"
    )


def _not_found() -> NotFoundError:
    return NotFoundError(
        "Pipeline not found", status_code=404, code="err-1", request_id="req_1", method="POST"
    )


def test_outcome_json_success_and_failure() -> None:
    request = PromoteRequest(A, B, [C])
    ok = PlanOutcome(3, request, [Promotion(uuid.UUID(C), uuid.UUID(D))])
    failed = PlanOutcome(4, request, error=_not_found())

    assert outcome_json(ok) == {
        "index": 3,
        "pipeline_id": A,
        "source_app_id": B,
        "target_app_ids": [C],
        "ok": True,
        "promotions": [{"target_app_id": C, "deployment_id": D}],
        "error": None,
    }
    assert outcome_json(failed)["error"] == {
        "type": "NotFoundError",
        "message": "Pipeline not found",
        "status": 404,
        "code": "err-1",
        "request_id": "req_1",
        "state": None,
    }
    assert outcome_rows(ok) == [("3", "ok", A, C, D)]
    assert outcome_rows(failed) == [
        ("4", "failed", A, "-", "NotFoundError 404: Pipeline not found [request id req_1]")
    ]


def test_error_json_and_short_error_for_other_errors() -> None:
    limited = RateLimitError("slow down", status_code=429, retry_after=120.0)
    lost = APIConnectionError("connection lost", request_sent=True)
    assert error_json(limited)["retry_after"] == 120.0
    assert error_json(lost) == {
        "type": "APIConnectionError",
        "message": "connection lost",
        "status": None,
        "code": None,
        "request_id": None,
        "state": None,
    }
    assert short_error(lost) == "APIConnectionError: connection lost"
    assert short_error(ValueError("x: bad")) == "ValueError: x: bad"


def test_deployment_json_is_plain_data() -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    deployment = make_deployment(
        uuid.UUID(A),
        uuid.UUID(B),
        "inProgress",
        created_at=created,
        updated_at=created,
        started_at=created,
    )
    data = deployment_json(deployment)
    assert json.loads(json.dumps(data)) == data
    assert data["id"] == A
    assert data["status"] == "inProgress"
    assert data["created_at"] == "2026-01-02T03:04:05Z"
    assert data["finished_at"] is None


# --- progress ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.4, "59s"), (61, "1m01s"), (3599, "59m59s"), (3720, "1h02m")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_progress_text() -> None:
    assert progress_text(0, 0, 10, 0.0) == "0/10 done, 0 failed, 0.0/s, ETA ?"
    assert progress_text(4, 1, 10, 2.0) == "4/10 done, 1 failed, 2.0/s, ETA 3s"
    assert progress_text(10, 0, 10, 4.0) == "10/10 done, 0 failed, 2.5/s, done"


def test_progress_line_is_throttled_and_ends_on_its_own_line() -> None:
    clock = FakeClock(0)
    stream = io.StringIO()
    progress = ProgressLine(stream, 3, enabled=True, clock=clock, min_interval=1.0)
    progress.advance(ok=True)
    clock.advance(0.5)
    progress.advance(ok=False)  # too soon: not drawn
    clock.advance(0.5)
    progress.advance(ok=True)  # the last one is always drawn
    progress.finish()
    assert stream.getvalue() == (
        "\r\x1b[2K1/3 done, 0 failed, 0.0/s, ETA ?\r\x1b[2K3/3 done, 1 failed, 3.0/s, done\n"
    )


def test_progress_line_steps_aside_for_results_on_the_same_terminal() -> None:
    clock = FakeClock(0)
    stream = io.StringIO()
    progress = ProgressLine(stream, 2, enabled=True, shares_terminal=True, clock=clock)
    progress.advance(ok=True, write=lambda: stream.write("result 1\n"))
    progress.advance(ok=True, write=lambda: stream.write("result 2\n"))
    progress.finish()
    assert stream.getvalue() == (
        "result 1\n"
        "\r\x1b[2K1/2 done, 0 failed, 0.0/s, ETA ?"
        "\r\x1b[2K"  # erased before the next result...
        "result 2\n"
        "\r\x1b[2K2/2 done, 0 failed, 0.0/s, done"  # ...and drawn again after it
        "\n"
    )


def test_disabled_progress_line_writes_nothing() -> None:
    stream = io.StringIO()
    progress = ProgressLine(stream, 1, enabled=False)
    progress.advance(ok=True)
    progress.finish()
    assert stream.getvalue() == ""


# --- logging -------------------------------------------------------------------------------


def test_redacting_formatter_hides_secrets_everywhere() -> None:
    formatter = RedactingFormatter("%(message)s", ["sk-live-abc", "sk-live-abcdef", "ab"])
    record = logging.LogRecord(
        "sevalla_async",
        logging.DEBUG,
        __file__,
        1,
        "token %s in %r",
        ("sk-live-abcdef", "ab"),
        None,
    )
    try:
        raise RuntimeError("boom sk-live-abc")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert "sk-live" not in text
    assert text.startswith("token *** in 'ab'")
    assert "boom ***" in text
    # "ab" is too short to be a key: left alone (else ordinary words would be mangled)


def test_configure_logging_verbose_and_quiet() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("sevalla_async")
    handler = configure_logging(stream, verbose=False, secrets=["secret-key-1"])
    try:
        logger.debug("hidden")
        logger.warning("retrying with secret-key-1")
    finally:
        logger.removeHandler(handler)
    handler = configure_logging(stream, verbose=True, secrets=[])
    try:
        logger.debug("shown")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    assert stream.getvalue() == (
        "sevalla-async: WARNING: retrying with ***\nsevalla-async: DEBUG: shown\n"
    )


# --- main() in-process: usage errors need no server -----------------------------------------


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.sevalla_loopback
def test_main_usage_errors_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVALLA_API_KEY", "secret-from-env")
    monkeypatch.delenv("SEVALLA_BASE_URL", raising=False)
    message = (
        "--target: target_app_ids[0]: 'nah' is not a valid UUID "
        "(expected the canonical form, e.g. 'fb5e5168-4281-4bec-94c5-0d1584e9e657')"
    )
    code, out, err = _main("promote", A, "--source", B, "--target", "nah")
    assert (code, err) == (2, f"sevalla-async: error: {message}\n")
    assert json.loads(out)["error"]["message"] == message  # not a terminal: JSON too
    code, _, err = _main("deployments", "list", "x", "--base-url", "ftp://h")
    assert code == 2
    assert "base_url: expected an https:// URL" in err
    code, out, err = _main("promote", "secret-from-env", "--source", B, "--target", C)
    assert code == 2
    assert "secret-from-env" not in out
    assert err == (
        "sevalla-async: error: PIPELINE: pipeline_id: '***' is not a valid UUID "
        "(expected the canonical form, e.g. 'fb5e5168-4281-4bec-94c5-0d1584e9e657')\n"
    )


def test_main_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["pipelines", "list", "--limit", "-1"])
    assert info.value.code == 2
    assert "--limit: must not be negative, got -1" in capsys.readouterr().err


# --- the fan-out seam ----------------------------------------------------------------------


async def test_run_plan_yields_every_outcome_with_errors_inside(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(5, targets=1)
    broken = PromoteRequest(uuid.uuid4(), requests[0].source_app_id, requests[0].target_app_ids)
    plan = [*requests[:2], broken, *requests[2:]]
    started: list[int] = []

    outcomes = [o async for o in run_plan(client, plan, concurrency=2, on_start=started.append)]

    assert sorted(o.index for o in outcomes) == list(range(6))
    assert sorted(started) == list(range(6))
    by_index = {o.index: o for o in outcomes}
    assert isinstance(by_index[2].error, NotFoundError)
    assert by_index[2].request is broken
    for i in (0, 1, 3, 4, 5):
        assert by_index[i].ok
        assert by_index[i].request is plan[i]
        (promotion,) = by_index[i].promotions or []
        assert promotion.target_app_id == plan[i].target_app_ids[0]
    assert fake.max_in_flight <= 2


async def test_run_plan_starts_requests_in_order_within_the_bound(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(7, targets=1)
    started: list[int] = []
    outcomes = [o async for o in run_plan(client, requests, concurrency=3, on_start=started.append)]
    assert started == list(range(7))
    assert len(outcomes) == 7
    paths = [r.path for r in fake.requests]
    assert sorted(paths) == sorted(f"/v3/pipelines/{r.pipeline_id}/promote" for r in requests)


@pytest.mark.sevalla_loopback
async def test_closing_run_plan_cancels_what_is_in_flight(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(4, targets=1)
    slow = requests[1]
    fake.inject(Fault.slow(3600), path=f"/pipelines/{slow.pipeline_id}/promote")
    started: list[int] = []

    async with aclosing(run_plan(client, requests, concurrency=2, on_start=started.append)) as it:
        first = [await it.__anext__() for _ in range(3)]  # 0, 2 and 3 finish; 1 hangs

    assert sorted(o.index for o in first) == [0, 2, 3]
    assert started == [0, 1, 2, 3]
    assert fake.in_flight == 1  # the fake still holds it; the client gave up on it
    await fake.close()  # does not wait for the scripted hour
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_run_plan_raises_what_is_not_an_api_error(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    requests = fake.promote_requests(2)

    def explode(index: int) -> None:
        raise RuntimeError(f"bug at {index}")

    async def drain() -> None:
        async for _ in run_plan(client, requests, concurrency=1, on_start=explode):
            pass

    # on_start runs as the plan is read: the fan-out reports it as its input raising
    with pytest.raises(FanoutError) as info:
        await drain()
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "bug at 0"
    with pytest.raises(ValueError, match="concurrency: must be >= 1"):
        async for _ in run_plan(client, requests, concurrency=0, on_start=explode):
            pass

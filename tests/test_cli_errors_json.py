"""One JSON error shape for every failure the CLI prints with ``--output json``: the keys
``type``, ``message``, ``status``, ``code``, ``request_id`` and ``state`` are always there
(``null`` when unknown), built by one function (``_output.error_json``), whatever failed:
an HTTP status, a refused connection, a timeout, an unreadable reply, a usage error."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import APIConnectionError, PromotionState
from sevalla_async._cli._output import error_json
from sevalla_async.testing import FakeSevalla, Fault

from .test_cli import Cli, make_cli, promote_args, write_plan

pytestmark = pytest.mark.sevalla_loopback  # real sockets: the CLI against the fake

ERROR_KEYS = {"type", "message", "status", "code", "request_id", "state"}


@pytest.fixture
def cli(fake: FakeSevalla) -> Cli:
    return make_cli(fake)


def the_error(out: str) -> dict[str, Any]:
    """The one ``{"error": {...}}`` line of stdout, checked for the shape."""
    lines = [line for line in out.splitlines() if '"error"' in line]
    assert len(lines) == 1, out
    error: dict[str, Any] = json.loads(lines[0])["error"]
    assert set(error) >= ERROR_KEYS, error
    assert set(error) - ERROR_KEYS <= {"retry_after"}, error
    return error


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v3"


async def test_a_404_has_every_key_and_the_rejected_state(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1)
    run = await cli("promote", str(uuid.uuid4()), *promote_args(request)[1:], "--output", "json")
    assert run.code == 1
    error = the_error(run.out)
    assert error["type"] == "NotFoundError"
    assert error["status"] == 404
    assert error["request_id"] == fake.requests[-1].request_id
    assert error["state"] == "rejected"


async def test_a_refused_connection_says_not_sent(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1)
    run = await cli(
        "promote",
        *promote_args(request),
        "--output",
        "json",
        "--timeout",
        "0.5",  # bounds the retries of the refused connection
        env={"SEVALLA_BASE_URL": closed_port_url()},
    )
    assert run.code == 1
    error = the_error(run.out)
    assert error["type"] == "APIConnectionError"
    assert error["state"] == "not_sent"
    assert (error["status"], error["code"], error["request_id"]) == (None, None, None)
    assert "may have been acted on" not in run.err


async def test_a_read_that_cannot_connect_has_no_state(cli: Cli) -> None:
    run = await cli(
        "pipelines",
        "list",
        "--output",
        "json",
        "--timeout",
        "0.5",
        env={"SEVALLA_BASE_URL": closed_port_url()},
    )
    assert run.code == 1
    error = the_error(run.out)
    assert error["type"] == "APIConnectionError"
    assert error["state"] is None


async def test_a_timed_out_promote_is_unknown(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1)
    fake.inject(Fault.slow(3600), method="POST")
    run = await cli("promote", *promote_args(request), "--output", "json", "--timeout", "0.2")
    assert run.code == 1
    error = the_error(run.out)
    assert error["type"] == "APITimeoutError"
    assert error["state"] == "unknown"
    assert error["status"] is None


async def test_a_5xx_carries_status_request_id_and_state(fake: FakeSevalla, cli: Cli) -> None:
    (request,) = fake.promote_requests(1)
    fake.inject(Fault.error(503, "down"), method="POST")
    run = await cli("promote", *promote_args(request), "--output", "json")
    error = the_error(run.out)
    assert (error["type"], error["status"], error["state"]) == (
        "InternalServerError",
        503,
        "unknown",
    )
    assert error["request_id"] == fake.requests[-1].request_id


async def test_an_unreadable_reply_is_a_validation_error(fake: FakeSevalla, cli: Cli) -> None:
    fake.inject(Fault.malformed(), method="GET")
    run = await cli("pipelines", "list", "--output", "json")
    assert run.code == 1
    error = the_error(run.out)
    assert error["type"] == "APIResponseValidationError"
    assert error["status"] == 200
    assert error["code"] is None
    assert error["state"] is None


async def test_a_401_has_the_shape_and_says_what_to_check(fake: FakeSevalla, cli: Cli) -> None:
    run = await cli("pipelines", "list", "--output", "json", env={"SEVALLA_API_KEY": "wrong"})
    assert run.code == 1
    error = the_error(run.out)
    assert (error["type"], error["status"]) == ("AuthenticationError", 401)
    assert "SEVALLA_API_KEY" in run.err
    assert "--api-key" in run.err
    assert f"the base URL in use, {fake.base_url}," in run.err


async def test_usage_errors_are_printed_in_the_same_shape(
    fake: FakeSevalla, cli: Cli, tmp_path: Path
) -> None:
    (request,) = fake.promote_requests(1)
    args = promote_args(request)
    run = await cli("promote", "nope", *args[1:], "--output", "json")
    assert run.code == 2
    error = the_error(run.out)
    assert error["type"] == "UsageError"
    assert "PIPELINE: pipeline_id: 'nope'" in error["message"]
    assert error["state"] == "not_sent"  # promote writes: nothing was sent

    listed = await cli("deployments", "list", "nope", "--output", "json")
    assert listed.code == 2
    assert the_error(listed.out)["state"] is None  # a read

    plan = write_plan(tmp_path / "plan.json", [{"pipeline_id": "x"}])
    invalid = await cli("promote-many", plan, "--output", "json")
    assert invalid.code == 2
    error = the_error(invalid.out)
    assert (error["type"], error["state"]) == ("PlanError", "not_sent")
    assert fake.requests == []

    table = await cli("promote", "nope", *args[1:], "--output", "table")
    assert table.out == ""


async def test_errors_argparse_finds_are_printed_in_the_same_shape(
    fake: FakeSevalla, cli: Cli
) -> None:
    (request,) = fake.promote_requests(1)
    args = promote_args(request)
    bad_value = await cli("promote", *args, "--timeout", "soon", "--output", "json")
    assert bad_value.code == 2
    error = the_error(bad_value.out)
    assert error["type"] == "UsageError"
    assert error["message"] == "argument --timeout: expected seconds, got 'soon'"
    assert error["state"] == "not_sent"  # promote writes: nothing was sent
    assert "usage: sevalla-async promote" in bad_value.err  # people still get argparse's text

    missing = await cli("deployments", "list", "--out=json")  # an abbreviation counts
    assert missing.code == 2
    error = the_error(missing.out)
    assert "required: APP" in error["message"]
    assert error["state"] is None  # a read

    table = await cli("promote", *args, "--timeout", "soon", "--output", "table")
    assert (table.code, table.out) == (2, "")
    assert fake.requests == []


def test_error_json_fills_every_key_for_any_error() -> None:
    lost = APIConnectionError("connection lost", request_sent=True)
    lost.write_state = PromotionState.UNKNOWN  # as the request loop leaves it on any write
    assert error_json(lost) == {
        "type": "APIConnectionError",
        "message": "connection lost",
        "status": None,
        "code": None,
        "request_id": None,
        "state": "unknown",
    }
    assert error_json(ValueError("bad")) == {
        "type": "ValueError",
        "message": "bad",
        "status": None,
        "code": None,
        "request_id": None,
        "state": None,
    }
    recorded = error_json(None, type="PromotionUnresolvedError", message="later", error=1)
    assert recorded["status"] is None
    assert recorded["error"] == 1  # a key of a recorded error is kept, whatever its name

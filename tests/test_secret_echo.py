"""Issue 21, item 2: a server or gateway that echoes the token back. Whatever the server
sends is redacted once, where the reply enters the SDK, so no error (its str, repr, args,
body, causes), log line, traceback or CLI journal quotes the key.

Every reply comes from a raw socket server that copies the request's ``Authorization``
header into what it sends.
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest

from sevalla_async import (
    APIConnectionError,
    APIResponseValidationError,
    AuthenticationError,
    Deployment,
    InternalServerError,
)

from .secret_graph import assert_secret_unreachable
from .test_cli import run_in_thread
from .test_hostile import (
    KEY,
    RawRequest,
    RawServer,
    deployment_json,
    ids,
    promote_args,
    raw_client,
    reply,
)


def auth(request: RawRequest) -> str:
    return request.headers["authorization"]


def json_echo(status: int) -> object:
    def respond(request: RawRequest) -> bytes:
        body = {
            "message": f"invalid token {auth(request)}",
            "status": status,
            "data": {"code": auth(request), "message": f"{auth(request)} was rejected"},
        }
        headers = {"x-request-id": f"rid-{KEY}", "WWW-Authenticate": auth(request)}
        return reply(status, json.dumps(body).encode(), headers)

    return respond


def text_echo(status: int) -> object:
    def respond(request: RawRequest) -> bytes:
        page = f"<h1>Bad gateway</h1><p>Authorization: {auth(request)}</p>".encode()
        return reply(status, page, {"Content-Type": "text/html"})

    return respond


def assert_clean(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    texts = [str(error), repr(error), *map(str, error.args)]
    texts.append("".join(traceback.format_exception(error)))
    shown = traceback.TracebackException.from_exception(error, capture_locals=True)
    texts.append("".join(shown.format()))
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append("".join(traceback.format_exception(*record.exc_info)))
    for text in texts:
        assert KEY not in text
    assert assert_secret_unreachable(error, KEY) > 3


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sevalla_async")


async def test_a_json_error_body_that_quotes_the_token(caplog: pytest.LogCaptureFixture) -> None:
    async with raw_client(json_echo(401)) as (server, client, _clock):
        with pytest.raises(AuthenticationError) as info:
            await client.pipelines.promote(ids(), **promote_args())
    assert auth(server.requests[0]) == f"Bearer {KEY}"  # it did echo the real key
    error = info.value
    assert error.message == "invalid token Bearer [redacted]"
    assert error.detail == "Bearer [redacted] was rejected"
    assert error.code == "Bearer [redacted]"
    assert error.request_id == "rid-[redacted]"
    assert error.headers["WWW-Authenticate"] == "Bearer [redacted]"
    assert error.body["data"]["code"] == "Bearer [redacted]"
    assert error.promotion_state == "rejected"
    assert_clean(error, caplog)


async def test_a_plain_text_body_on_retried_5xx(caplog: pytest.LogCaptureFixture) -> None:
    async with raw_client(text_echo(520), max_retries=2) as (server, client, _clock):
        with pytest.raises(InternalServerError) as info:
            await client.pipelines.get(ids())
    assert len(server.requests) == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per retry, quoting the server's message
    assert "Authorization: Bearer [redacted]" in warnings[0].getMessage()
    assert "Bearer [redacted]" in info.value.body
    assert_clean(info.value, caplog)


async def test_a_2xx_reply_that_does_not_fit_keeps_a_redacted_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def respond(request: RawRequest) -> bytes:
        return reply(200, f'{{"echo": "{auth(request)}"}}'.encode())

    async with raw_client(respond) as (_, client, _clock):
        with pytest.raises(APIResponseValidationError) as info:
            await client.pipelines.promote(ids(), **promote_args())
    assert "Bearer [redacted]" in str(info.value.body)
    assert_clean(info.value, caplog)


async def test_text_decoded_from_a_2xx_reply_is_redacted() -> None:
    found = deployment_json()

    def respond(request: RawRequest) -> bytes:
        return reply(200, json.dumps({**found, "commit_message": auth(request)}).encode())

    async with raw_client(respond) as (_, client, _clock):
        deployment = await client.deployments.get(ids(), ids())
        raw = await client.deployments.with_raw_response.get(ids(), ids())
    assert isinstance(deployment, Deployment)
    assert KEY not in repr(deployment)
    assert KEY.encode() not in raw.http_response_body


async def test_a_status_line_that_quotes_the_token(caplog: pytest.LogCaptureFixture) -> None:
    def respond(request: RawRequest) -> bytes:
        return b"HTTP/1.1 abc " + auth(request).encode() + b"\r\nContent-Length: 0\r\n\r\n"

    async with raw_client(respond) as (_, client, _clock):
        with pytest.raises(APIConnectionError) as info:
            await client.pipelines.get(ids())
    assert "[redacted]" in str(info.value)
    assert_clean(info.value, caplog)


async def test_the_cli_journal_never_quotes_it(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    entries = [{"pipeline_id": ids(), **promote_args()} for _ in range(2)]
    plan.write_text(json.dumps(entries), encoding="utf-8")
    journal = tmp_path / "journal.jsonl"
    async with RawServer(json_echo(422)) as server:
        env = {"SEVALLA_API_KEY": KEY, "SEVALLA_BASE_URL": server.base_url}
        run = await run_in_thread(
            "promote-many", str(plan), "--journal", str(journal), "--output", "json", env=env
        )
    assert len(server.requests) == 2
    written = journal.read_text(encoding="utf-8")
    assert "Bearer [redacted]" in written  # the server's message is there...
    assert KEY not in written  # ...without the key
    assert KEY not in run.out + run.err
    assert run.code != 0


def test_a_short_key_is_not_redacted() -> None:
    """A key shorter than 12 characters (a test key) would corrupt replies if redacted."""
    from sevalla_async._secret import Secret
    from sevalla_async._transport import TransportResponse

    short = Secret("key")
    response = TransportResponse(200, {}, b'{"key": "key"}')
    assert short.redact_reply(response) is response
    assert short.redact("key") == "key"
    assert Secret(KEY).redact(f"a {KEY} b {KEY}") == "a [redacted] b [redacted]"

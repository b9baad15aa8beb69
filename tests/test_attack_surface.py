"""Attacks on 0.3's new surfaces (logs, current_build, failure logs, the redacting key
holder): each test is a hostile reply, from a raw socket server, that once got the key or
hostile text past the hardening."""

from __future__ import annotations

import copy
import json
import pickle
import traceback

import pytest

from sevalla_async import (
    APIError,
    Build,
    BuildChangedError,
    ClientRateLimitError,
    Deployment,
    PromotionState,
    UnprocessableEntityError,
)

from .secret_graph import assert_secret_unreachable
from .test_hostile import KEY, RawRequest, deployment_json, ids, raw_client, reply


def escaped(text: str) -> str:
    """``text`` with every character written as a JSON ``\\uXXXX`` escape."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def log_reply(text: str) -> bytes:
    """A one-entry logs reply whose every text field (and a tag key) is ``text``, raw."""
    entry = (
        '{"id":"%s","message":"token %s","service":"%s","severity":"ERROR","timestamp":"t",'
        '"unix_timestamp":1700000000000000,"tags":{"%s":"%s"},"attributes":{"a":{"x":"%s"}}}'
    ) % ((text,) * 6)
    return f"[{entry}]".encode()


def shown(error: BaseException) -> str:
    rendered = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "".join(rendered.format())


@pytest.mark.parametrize(
    "split",
    [escaped(KEY), KEY[:5] + escaped(KEY[5:9]) + KEY[9:], f"{KEY} {escaped(KEY)}"],
    ids=["whole", "part", "bare-then-escaped"],
)
async def test_a_key_written_in_json_escapes_is_redacted_from_log_entries(split: str) -> None:
    async with raw_client(lambda _: reply(200, log_reply(split))) as (_, client, _clock):
        entries = await client.deployments.logs(ids(), ids())
    assert entries[0].message.startswith("token [redacted]")
    assert "[redacted]" in entries[0].service
    assert_secret_unreachable(entries, KEY)


async def test_a_key_written_in_json_escapes_is_redacted_from_a_deployment() -> None:
    def respond(_: RawRequest) -> bytes:
        body = json.dumps({**deployment_json(), "commit_message": "@@"})
        return reply(200, body.replace("@@", "by " + escaped(KEY)).encode())

    async with raw_client(respond) as (_, client, _clock):
        deployment = await client.deployments.get(ids(), ids())
        raw = await client.deployments.with_raw_response.get(ids(), ids())
    assert isinstance(deployment, Deployment)
    assert deployment.commit_message == "by [redacted]"
    assert KEY not in json.loads(raw.http_response_body)["commit_message"]


async def test_a_key_written_in_json_escapes_is_redacted_from_an_error() -> None:
    body = json.dumps({"message": "bad @", "status": 422, "data": {"code": "@"}})
    body = body.replace("@", escaped(KEY))
    async with raw_client(lambda _: reply(422, body.encode())) as (_, client, _clock):
        with pytest.raises(UnprocessableEntityError) as info:
            await client.deployments.logs(ids(), ids())
    assert "bad [redacted]" in str(info.value)
    assert KEY not in shown(info.value)
    assert_secret_unreachable(info.value, KEY)


async def test_a_key_in_a_header_name_is_redacted() -> None:
    def respond(_: RawRequest) -> bytes:
        return reply(500, b'{"message":"x"}', {f"X-Echo-{KEY}": "v"})

    async with raw_client(respond) as (_, client, _clock):
        with pytest.raises(APIError) as info:
            await client.deployments.logs(ids(), ids())
    assert KEY not in shown(info.value)
    assert_secret_unreachable(info.value, KEY)


HOSTILE = "\x1b[31mred\x1b[0m\nWARNING forged line\r\u2028\x07"


async def test_str_of_an_error_escapes_the_servers_control_characters() -> None:
    body = {"message": HOSTILE, "status": 422, "data": {"code": "\x1b]0;t\x07", "message": "\r\n"}}

    def respond(_: RawRequest) -> bytes:
        return reply(422, json.dumps(body).encode(), {"x-request-id": "r\x1b[2J"})

    async with raw_client(respond) as (_, client, _clock):
        calls = (
            lambda: client.deployments.logs(ids(), ids()),
            lambda: client.deployments.current_build(ids()),
        )
        for call in calls:
            with pytest.raises(UnprocessableEntityError) as info:
                await call()
            text = str(info.value)
            assert text.isprintable(), text
            assert "\\x1b[31mred\\x1b[0m\\nWARNING forged line" in text
            assert "[request id r\\x1b[2J]" in text
            assert info.value.message == HOSTILE  # the field keeps the server's text


def round_trips(error: BaseException) -> list[BaseException]:
    """``error`` pickled, copied and deep-copied."""
    pickled = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    return [pickled, copy.copy(error), copy.deepcopy(error)]


async def test_the_new_errors_survive_pickle_and_copy() -> None:
    def respond(request: RawRequest) -> bytes:
        if request.target.endswith("/logs?limit=100"):
            return reply(422, b'{"message": "no", "data": {"code": "c"}}', {"X-Request-Id": "r"})
        return reply(200, json.dumps(deployment_json("failed")).encode())

    async with raw_client(respond) as (_, client, _clock):
        with pytest.raises(UnprocessableEntityError) as info:
            await client.deployments.logs(ids(), ids())
        deployment = await client.deployments.get(ids(), ids())
    for again in round_trips(info.value):
        assert type(again) is UnprocessableEntityError
        assert (str(again), repr(again)) == (str(info.value), repr(info.value))
        assert again.headers["x-request-id"] == "r"
        assert again.code == "c"
    changed = BuildChangedError(
        "moved", expected="abcdef1", actual=Build("1234567"), deployments=[deployment]
    )
    changed.add_note("a note")
    for again in round_trips(changed):
        assert isinstance(again, BuildChangedError)
        assert (again.expected, again.actual, again.deployments) == (
            "abcdef1",
            Build("1234567"),
            [deployment],
        )
        assert again.promotion_state is again.write_state is PromotionState.PROMOTED
        assert again.__notes__ == ["a note"]
    held = ClientRateLimitError("held", retry_after=3.0)
    assert [str(again) for again in round_trips(held)] == [str(held)] * 3

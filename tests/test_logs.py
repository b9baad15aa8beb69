"""``client.deployments.logs``: the spec's query rules checked before sending, the reply
made safe (escaped, capped), hostile replies as typed errors; the fake's logs
(``set_logs``, ``fail_deployments``) and their query rules."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sevalla_async import APIResponseValidationError, LogEntry, NotFoundError, SevallaClient
from sevalla_async._logs import MAX_MESSAGE
from sevalla_async.testing import FakeClock, FakeSevalla

from .test_hostile import RawRequest, ids, raises, raw_client, reply

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)  # FakeClock's wall epoch


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def a_deployment(fake: FakeSevalla) -> tuple[uuid.UUID, uuid.UUID]:
    app = fake.add_app()
    return app, fake.add_deployment(app, script=["failed"]).id


async def test_logs_come_typed_and_oldest_first(fake: FakeSevalla, client: SevallaClient) -> None:
    app, dep = a_deployment(fake)
    created = fake.deployment(dep).created_at
    fake.set_logs(
        dep,
        [
            {"message": "second", "unix_timestamp": _micros(created) + 2000 + 1000 * 1000},
            {"message": "first", "severity": "ERROR", "tags": {"container": "web", "n": 3}},
        ],
    )

    entries = await client.deployments.logs(app, dep)

    assert [e.message for e in entries] == ["first", "second"]
    first = entries[0]
    assert isinstance(first, LogEntry)
    assert first.severity == "ERROR"
    assert first.service == "APP_DEPLOYMENT"
    assert first.tags == {"container": "web", "n": "3"}  # not a string: its JSON text
    assert first.timestamp.tzinfo is not None
    assert first.timestamp == created + timedelta(microseconds=1000)  # 1 ms apart by default
    assert entries[1].timestamp == created + timedelta(seconds=1, microseconds=2000)


async def test_severity_and_limit_go_as_the_spec_says(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app, dep = a_deployment(fake)
    fake.set_logs(
        dep, [{"message": f"line {i}", "severity": "ERROR" if i % 2 else "INFO"} for i in range(10)]
    )

    errors = await client.deployments.logs(app, dep, severity="error", limit=3)

    assert [e.message for e in errors] == ["line 5", "line 7", "line 9"]  # the latest 3
    query = fake.requests[-1].query
    assert query["limit"] == "3"
    assert json.loads(query["filters"]) == [
        {"key": "severity", "operator": "EQUALS", "value": "ERROR"}
    ]
    assert "from" not in query
    assert "to" not in query


async def test_the_default_range_is_the_last_hour_since_reaches_older(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app, dep = a_deployment(fake)
    fake.set_logs(dep, [{"message": "built"}])
    clock.advance(2 * 3600)

    assert await client.deployments.logs(app, dep) == []
    since = T0 + timedelta(seconds=clock.now - 3 * 3600)
    until = since + timedelta(hours=2)
    [entry] = await client.deployments.logs(app, dep, since=since, until=until)
    assert entry.message == "built"
    query = fake.requests[-1].query
    assert query["from"].endswith("Z")
    assert "T" in query["from"]
    assert datetime.fromisoformat(query["to"][:-1] + "+00:00") == until


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5001}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"severity": "ERR OR"}, "severity"),
        ({"severity": ""}, "severity"),
        ({"severity": '"},{"key":"message'}, "severity"),
        ({"severity": 5}, "severity"),
        ({"since": datetime(2026, 1, 1)}, "since"),
        ({"until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": T0 + timedelta(hours=1), "until": T0}, "since"),
    ],
)
async def test_arguments_breaking_the_spec_are_refused_before_sending(
    fake: FakeSevalla, client: SevallaClient, kwargs: dict[str, Any], field: str
) -> None:
    app, dep = a_deployment(fake)
    with pytest.raises(ValueError, match=rf"^{field}: "):
        await client.deployments.logs(app, dep, **kwargs)
    assert fake.requests == []


async def test_bad_ids_are_refused_before_sending(fake: FakeSevalla, client: SevallaClient) -> None:
    with pytest.raises(ValueError, match=r"^deployment_id: "):
        await client.deployments.logs(uuid.uuid4(), "nope")
    assert fake.requests == []
    with pytest.raises(NotFoundError):
        await client.deployments.logs(uuid.uuid4(), uuid.uuid4())


async def test_log_text_is_escaped_and_capped(fake: FakeSevalla, client: SevallaClient) -> None:
    app, dep = a_deployment(fake)
    hostile = "\x1b[2J\x1b]0;pwned\x07line\nforged INFO ok\r\u202egnp.exe"
    fake.set_logs(
        dep,
        [
            {"message": hostile, "tags": {"\x1bkey": "v\x00"}, "attributes": {"a": {"b": [1]}}},
            {"message": "x" * 100_000},
        ],
    )

    first, big = await client.deployments.logs(app, dep)

    assert first.message == "\\x1b[2J\\x1b]0;pwned\\x07line\\nforged INFO ok\\r\\u202egnp.exe"
    assert first.tags == {"\\x1bkey": "v\\x00"}
    assert first.attributes == {"a": '{"b":[1]}'}
    assert len(big.message) < MAX_MESSAGE + 50
    assert big.message.startswith("x" * MAX_MESSAGE)
    assert big.message.endswith("... [truncated, 100000 characters]")


async def test_a_failing_app_logs_why(fake: FakeSevalla, client: SevallaClient) -> None:
    pipeline = fake.add_pipeline()
    source, target = pipeline.stages[0].app_ids[0], pipeline.stages[1].app_ids[0]
    fake.fail_deployments(target, "npm run build exited with 1")

    [deployment] = await client.pipelines.promote_and_wait(
        pipeline.id, source_app_id=source, target_app_ids=[target]
    )
    errors = await client.deployments.logs(target, deployment.id, severity="ERROR")

    assert deployment.status == "failed"
    assert [e.severity for e in errors] == ["ERROR", "ERROR"]
    assert "npm run build exited with 1" in errors[0].message
    fake.fail_deployments(target, None)
    assert (await client.deployments.rollback(target)).app_id == target


def test_set_logs_checks_the_entries(fake: FakeSevalla) -> None:
    _, dep = a_deployment(fake)
    with pytest.raises(ValueError, match=r"entries\[1\]\.level: not a field"):
        fake.set_logs(dep, [{"message": "ok"}, {"level": "ERROR"}])
    with pytest.raises(ValueError, match=r"entries\[0\]\.message"):
        fake.set_logs(dep, [{"message": 5}])
    with pytest.raises(ValueError, match="deployment_id"):
        fake.set_logs(uuid.uuid4(), [])


# --- hostile replies ------------------------------------------------------------------------


def log_json(**overrides: Any) -> dict[str, Any]:
    entry = {
        "id": "abc",
        "message": "ok",
        "service": "APP_DEPLOYMENT",
        "severity": "INFO",
        "timestamp": "2026-01-01 00:00:00.000",
        "tags": {},
        "attributes": {},
        "unix_timestamp": 1767225600000000,
    }
    return {**entry, **overrides}


def _nested_body(depth: int) -> bytes:
    """A reply whose one entry has an attribute nested ``depth`` objects deep."""
    head = json.dumps([log_json(attributes={"deep": "@"})])
    return head.replace('"@"', '{"k":' * depth + '"leaf"' + "}" * depth).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        json.dumps({"data": [log_json()]}).encode(),
        json.dumps([log_json(message=5)]).encode(),
        json.dumps([log_json(tags=["a"])]).encode(),
        json.dumps([log_json(unix_timestamp=True)]).encode(),
        json.dumps([log_json(unix_timestamp=1e300)]).encode(),
        json.dumps([log_json(unix_timestamp=-1)]).encode(),
        b'[{"id":"a","message":"m","service":"s","severity":"I","timestamp":"t","tags":{},'
        b'"attributes":{},"unix_timestamp":NaN}]',
        json.dumps([{k: v for k, v in log_json().items() if k != "message"}]).encode(),
        json.dumps(["line"]).encode(),
        json.dumps([log_json()] * 6).encode(),  # more than the limit of 5 asked
        json.dumps([log_json()])[:-5].encode(),
    ],
    ids=[
        "deep-json",
        "object-not-array",
        "message-int",
        "tags-array",
        "timestamp-bool",
        "timestamp-huge",
        "timestamp-negative",
        "timestamp-nan",
        "missing-message",
        "strings",
        "over-the-limit",
        "truncated-json",
    ],
)
async def test_a_hostile_reply_is_a_typed_error(body: bytes) -> None:
    async with raw_client(lambda _: reply(200, body)) as (_, client, _clock):
        error = await raises(
            client.deployments.logs(ids(), ids(), limit=5), APIResponseValidationError
        )
    assert error.status_code == 200


async def test_a_deeply_nested_attribute_is_a_typed_error_or_capped_text() -> None:
    async with raw_client(lambda _: reply(200, _nested_body(5000))) as (_, client, _clock):
        await raises(client.deployments.logs(ids(), ids()), APIResponseValidationError)
    async with raw_client(lambda _: reply(200, _nested_body(400))) as (_, client, _clock):
        [entry] = await client.deployments.logs(ids(), ids())
    assert entry.attributes["deep"].startswith('{"k":{"k":')
    assert entry.attributes["deep"].endswith("... [truncated, 2406 characters]")


async def test_a_huge_reply_is_refused_at_the_cap() -> None:
    entry = log_json(message="x" * 60_000)
    body = json.dumps([entry] * 30).encode()  # 1.8 MB for limit=1: over its cap
    seen: list[RawRequest] = []

    def respond(request: RawRequest) -> bytes:
        seen.append(request)
        return reply(200, body)

    async with raw_client(respond) as (_, client, _clock):
        error = await raises(
            client.deployments.logs(ids(), ids(), limit=1), APIResponseValidationError
        )
    assert "max_response_size" in str(error)
    assert "/logs?limit=1" in seen[0].target

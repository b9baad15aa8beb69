"""FakeSevalla cannot drift from the real API: every reply body it gives, success or error,
is validated against the official spec's schema for that operation and status.

The schemas are a verbatim copy of the spec's (``tests/spec/responses.json``, written by
``tests/spec/extract.py``). ``format`` (uuid, date-time) and ``pattern`` are enforced.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import jsonschema
import pytest

from sevalla_async.testing import FakeClock, FakeSevalla, Fault, RateLimit

SPEC = json.loads((Path(__file__).parent / "spec" / "responses.json").read_text("utf-8"))
OPERATIONS: dict[str, Any] = SPEC["operations"]

# RFC 3339 date-time (jsonschema only checks "date-time" when an optional package is
# installed; this checker makes the check unconditional).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True  # "type" judges non-strings
        if not _RFC3339.match(value):
            return False
        datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
        return True

    return checker


FORMATS = _format_checker()


def _strip_docs(schema: Any) -> Any:
    """The schema without ``description``/``example`` (to compare shapes)."""
    if isinstance(schema, dict):
        return {k: _strip_docs(v) for k, v in schema.items() if k not in ("description", "example")}
    if isinstance(schema, list):
        return [_strip_docs(v) for v in schema]
    return schema


def schema_for(operation: str, status: int) -> dict[str, Any]:
    """The spec's schema of ``operation``'s reply with ``status``.

    The spec does not list every status every operation can give (``listPipelinesV3``
    documents no 400, yet the API validates ``limit``). Every error schema in the spec is
    the same error body (checked by :func:`test_every_error_schema_is_the_common_error_body`),
    so an undocumented error status is validated against that body.
    """
    responses = OPERATIONS[operation]["responses"]
    if str(status) in responses:
        schema: dict[str, Any] = responses[str(status)]
        return schema
    assert status >= 400, f"{operation}: undocumented success status {status}"
    fallback: dict[str, Any] = responses["401"]
    return fallback


def validate(operation: str, status: int, body: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        schema_for(operation, status), format_checker=FORMATS
    )
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(body)
    ]


# --- the checks are real ----------------------------------------------------------------


def test_every_error_schema_is_the_common_error_body() -> None:
    shapes = {
        json.dumps(_strip_docs(schema), sort_keys=True)
        for op in OPERATIONS.values()
        for status, schema in op["responses"].items()
        if status != "200"
    }
    assert len(shapes) == 1


def test_copied_schemas_cover_the_operations_and_their_paths() -> None:
    assert {op: (o["method"], o["path"]) for op, o in OPERATIONS.items()} == {
        "promotePipelineV3": ("POST", "/pipelines/{id}/promote"),
        "listPipelinesV3": ("GET", "/pipelines"),
        "getPipelineV3": ("GET", "/pipelines/{id}"),
        "listDeploymentsV3": ("GET", "/applications/{id}/deployments"),
        "getDeploymentV3": ("GET", "/applications/{id}/deployments/{deployment_id}"),
        "cancelDeploymentV3": ("POST", "/applications/{id}/deployments/{deployment_id}/cancel"),
        "rollbackDeploymentV3": ("POST", "/applications/{id}/deployments/rollback"),
        "getApplicationDeploymentLogsV3": (
            "GET",
            "/applications/{id}/deployments/{deployment_id}/logs",
        ),
    }


GOOD_ID = "fb5e5168-4281-4bec-94c5-0d1584e9e657"


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ([{"target_app_id": "fb5e5168", "deployment_id": GOOD_ID}], "target_app_id"),
        # a well-formed UUID the spec's pattern refuses (version 0)
        (
            [{"target_app_id": "fb5e5168-4281-0bec-94c5-0d1584e9e657", "deployment_id": GOOD_ID}],
            "target_app_id",
        ),
        ([{"target_app_id": GOOD_ID, "deployment_id": GOOD_ID, "x": 1}], "0: Additional"),
        ([{"target_app_id": GOOD_ID}], "0: 'deployment_id' is a required"),
    ],
    ids=["uuid-format", "uuid-pattern", "extra-property", "missing-property"],
)
def test_validation_catches_promote_reply_drift(body: Any, complaint: str) -> None:
    errors = validate("promotePipelineV3", 200, body)
    assert errors
    assert any(complaint in e for e in errors), errors


@pytest.mark.parametrize(
    "stamp",
    ["2026-01-01T00:00:01", "2026-01-01 00:00:01Z", "2026-13-01T00:00:01.000Z", "yesterday"],
)
def test_validation_catches_bad_timestamps(stamp: str) -> None:
    page = {
        "data": [
            {
                "id": GOOD_ID,
                "display_name": "p",
                "type": "trunk",
                "stages": [],
                "created_at": stamp,
                "updated_at": "2026-01-01T00:00:01.000Z",
            }
        ],
        "total": 1,
        "offset": 0,
        "limit": 25,
    }
    assert validate("listPipelinesV3", 200, page)
    assert FORMATS.conforms("2026-01-01T00:00:01.000Z", "date-time")
    assert not FORMATS.conforms("2026-02-30T00:00:01Z", "date-time")


def test_error_body_needs_message_and_status() -> None:
    assert validate("getPipelineV3", 404, {"message": "Not found"})
    assert validate("getPipelineV3", 404, {"message": "x", "status": 404, "data": {"id": 1}})
    assert not validate("getPipelineV3", 404, {"message": "x", "status": 404})


# --- driving the fake through every route ------------------------------------------------


@attrs.frozen
class Reply:
    status: int
    content_type: str
    body: Any


@attrs.frozen
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None
    key: str | None = "default"
    data: bytes | None = None


async def send(http: aiohttp.ClientSession, fake: FakeSevalla, call: Call) -> Reply:
    headers = {}
    if call.key == "default":
        headers["Authorization"] = f"Bearer {fake.api_key}"
    elif call.key is not None:
        headers["Authorization"] = f"Bearer {call.key}"
    if call.data is not None:
        headers["Content-Type"] = "text/plain"
    async with http.request(
        call.method,
        fake.base_url + call.path,
        json=call.json,
        data=call.data,
        params=call.params,
        headers=headers,
    ) as response:
        return Reply(response.status, response.content_type, json.loads(await response.read()))


def path(operation: str, **ids: object) -> str:
    return str(OPERATIONS[operation]["path"]).format(**{k: str(v) for k, v in ids.items()})


Act = Callable[[FakeSevalla], Call]


@attrs.frozen
class Case:
    operation: str
    status: int
    name: str
    act: Act
    setup: Callable[[FakeSevalla], None] | None = None


def _promote_body(fake: FakeSevalla, **overrides: Any) -> tuple[uuid.UUID, dict[str, Any]]:
    pipeline = fake.add_pipeline(apps_per_stage=2)
    body: dict[str, Any] = {
        "source_app_id": str(pipeline.stages[0].app_ids[0]),
        "target_app_ids": [str(a) for a in pipeline.stages[1].app_ids],
    }
    body.update(overrides)
    return pipeline.id, body


def promote(fake: FakeSevalla, *, pipeline_id: object = None, **overrides: Any) -> Call:
    pid, body = _promote_body(fake, **overrides)
    return Call("POST", path("promotePipelineV3", id=pipeline_id or pid), json=body)


def promote_undeployed_source(fake: FakeSevalla) -> Call:
    pid, body = _promote_body(fake)
    source = fake.add_app(deployed=False)
    fake.state.app_pipeline[source] = pid
    body["source_app_id"] = str(source)
    return Call("POST", path("promotePipelineV3", id=pid), json=body)


def promote_foreign_target(fake: FakeSevalla) -> Call:
    other = fake.add_pipeline()
    return promote(fake, target_app_ids=[str(other.stages[1].app_ids[0])])


def a_deployment(fake: FakeSevalla, script: list[str | None] | None = None) -> tuple[Any, Any]:
    pipeline = fake.add_pipeline()
    app = pipeline.stages[1].app_ids[0]
    deployment = fake.add_deployment(app, script=script or ["waiting", "inProgress", "success"])
    return app, deployment.id


def get_deployment(script: list[str | None]) -> Act:
    def act(fake: FakeSevalla) -> Call:
        app, dep = a_deployment(fake, script)
        return Call("GET", path("getDeploymentV3", id=app, deployment_id=dep))

    return act


def get_cancelled_deployment(fake: FakeSevalla) -> Call:
    app, dep = a_deployment(fake)
    fake.deployment(dep).cancel()
    return Call("GET", path("getDeploymentV3", id=app, deployment_id=dep))


def list_deployments_after_promotions(fake: FakeSevalla) -> Call:
    pipeline = fake.add_pipeline()
    app = pipeline.stages[1].app_ids[0]
    for script in (["failed"], [None], ["inProgress"], ["skipped"]):
        fake.add_deployment(app, script=script)
    return Call("GET", path("listDeploymentsV3", id=app))


def cancel(fake: FakeSevalla, script: list[str | None] | None = None) -> Call:
    app, dep = a_deployment(fake, script)
    return Call("POST", path("cancelDeploymentV3", id=app, deployment_id=dep))


def rollback(fake: FakeSevalla) -> Call:
    app, _ = a_deployment(fake, ["failed"])
    return Call("POST", path("rollbackDeploymentV3", id=app))


def rollback_without_success(fake: FakeSevalla) -> Call:
    return Call("POST", path("rollbackDeploymentV3", id=fake.add_app(deployed=False)))


def with_fault(fault: Fault, act: Act) -> Act:
    def faulted(fake: FakeSevalla) -> Call:
        call = act(fake)
        fake.inject(fault)
        return call

    return faulted


def with_key(key: str | None, act: Act) -> Act:
    def keyed(fake: FakeSevalla) -> Call:
        return attrs.evolve(act(fake), key=key)

    return keyed


def list_pipelines(fake: FakeSevalla, **params: str) -> Call:
    fake.add_pipeline(stages=("Dev", "Staging", "Production"))
    fake.add_pipeline(stages=("Only",))
    return Call("GET", path("listPipelinesV3"), params=params or None)


def get_pipeline(fake: FakeSevalla) -> Call:
    pipeline = fake.add_pipeline(stages=("Dev", "Staging", "Production"), apps_per_stage=2)
    return Call("GET", path("getPipelineV3", id=pipeline.id))


def logs(fake: FakeSevalla, **params: str) -> Call:
    app, dep = a_deployment(fake, ["failed"])
    entries = [{"message": "ok", "tags": {"n": 1}}, {"message": "no", "severity": "ERROR"}]
    fake.set_logs(dep, entries)
    path_ = path("getApplicationDeploymentLogsV3", id=app, deployment_id=dep)
    return Call("GET", path_, params=params or None)


def failing_logs(fake: FakeSevalla) -> Call:
    pipeline = fake.add_pipeline()
    app = pipeline.stages[1].app_ids[0]
    fake.fail_deployments(app)
    dep = fake.deploy(app).id
    return Call("GET", path("getApplicationDeploymentLogsV3", id=app, deployment_id=dep))


UNKNOWN = uuid.UUID("0b5e5168-4281-4bec-94c5-0d1584e9e657")
LOGS = "getApplicationDeploymentLogsV3"
ERRORS_ONLY = '[{"key":"severity","operator":"EQUALS","value":"ERROR"}]'
LIKE = '[{"key":"severity","operator":"LIKE","value":"E"}]'
RANGE = {"from": "2026-01-01T00:00Z", "to": "2027-01-01T00:00:00.5Z"}

# Every operation, for each route a success and the errors the fake can give.
CASES: list[Case] = [
    # promotePipelineV3
    Case("promotePipelineV3", 200, "ok", promote),
    Case("promotePipelineV3", 400, "bad-source", lambda f: promote(f, source_app_id="nope")),
    Case("promotePipelineV3", 400, "no-targets", lambda f: promote(f, target_app_ids=[])),
    Case("promotePipelineV3", 400, "extra-field", lambda f: promote(f, extra=1)),
    Case("promotePipelineV3", 400, "bad-path-id", lambda f: promote(f, pipeline_id="nope")),
    Case("promotePipelineV3", 400, "undeployed-source", promote_undeployed_source),
    Case(
        "promotePipelineV3",
        415,
        "not-json",
        lambda f: attrs.evolve(promote(f), json=None, data=b"hi"),
    ),
    Case("promotePipelineV3", 401, "wrong-key", with_key("nope", promote)),
    Case("promotePipelineV3", 401, "no-key", with_key(None, promote)),
    Case("promotePipelineV3", 403, "fault", with_fault(Fault.error(403), promote)),
    Case("promotePipelineV3", 404, "unknown-pipeline", lambda f: promote(f, pipeline_id=UNKNOWN)),
    Case("promotePipelineV3", 404, "foreign-target", promote_foreign_target),
    Case("promotePipelineV3", 429, "fault", with_fault(Fault.rate_limited(2), promote)),
    Case("promotePipelineV3", 500, "fault", with_fault(Fault.error(500), promote)),
    Case(
        "promotePipelineV3",
        502,
        "fault-after-acting",
        with_fault(Fault(status=502, after_handling=True), promote),
    ),
    # listPipelinesV3
    Case("listPipelinesV3", 200, "empty", lambda f: Call("GET", path("listPipelinesV3"))),
    Case("listPipelinesV3", 200, "two", list_pipelines),
    Case("listPipelinesV3", 200, "paged", lambda f: list_pipelines(f, limit="1", offset="1")),
    Case("listPipelinesV3", 400, "limit-0", lambda f: list_pipelines(f, limit="0")),
    Case("listPipelinesV3", 400, "limit-text", lambda f: list_pipelines(f, limit="many")),
    Case("listPipelinesV3", 401, "wrong-key", with_key("nope", list_pipelines)),
    Case("listPipelinesV3", 429, "fault", with_fault(Fault.rate_limited(1), list_pipelines)),
    # getPipelineV3
    Case("getPipelineV3", 200, "ok", get_pipeline),
    Case("getPipelineV3", 400, "bad-id", lambda f: Call("GET", path("getPipelineV3", id="x"))),
    Case("getPipelineV3", 401, "no-key", with_key(None, get_pipeline)),
    Case("getPipelineV3", 404, "unknown", lambda f: Call("GET", path("getPipelineV3", id=UNKNOWN))),
    Case("getPipelineV3", 429, "fault", with_fault(Fault.rate_limited(1), get_pipeline)),
    # listDeploymentsV3
    Case("listDeploymentsV3", 200, "every-status", list_deployments_after_promotions),
    Case(
        "listDeploymentsV3",
        200,
        "paged",
        lambda f: attrs.evolve(list_deployments_after_promotions(f), params={"limit": "2"}),
    ),
    Case(
        "listDeploymentsV3",
        400,
        "offset-negative",
        lambda f: attrs.evolve(list_deployments_after_promotions(f), params={"offset": "-1"}),
    ),
    Case("listDeploymentsV3", 401, "wrong-key", with_key("x", list_deployments_after_promotions)),
    Case(
        "listDeploymentsV3",
        404,
        "unknown-app",
        lambda f: Call("GET", path("listDeploymentsV3", id=UNKNOWN)),
    ),
    Case(
        "listDeploymentsV3",
        429,
        "fault",
        with_fault(Fault.rate_limited(None, reset=3), list_deployments_after_promotions),
    ),
    # getDeploymentV3
    *[
        Case("getDeploymentV3", 200, f"status-{s}", get_deployment([s]))
        for s in ("waiting", "inProgress", "success", "failed", "cancelled", "skipped", None)
    ],
    Case("getDeploymentV3", 200, "cancelled-by-request", get_cancelled_deployment),
    Case(
        "getDeploymentV3",
        400,
        "bad-deployment-id",
        lambda f: Call("GET", path("getDeploymentV3", id=UNKNOWN, deployment_id="x")),
    ),
    Case("getDeploymentV3", 401, "wrong-key", with_key("x", get_deployment(["success"]))),
    Case(
        "getDeploymentV3",
        404,
        "unknown-app",
        lambda f: Call("GET", path("getDeploymentV3", id=UNKNOWN, deployment_id=UNKNOWN)),
    ),
    Case(
        "getDeploymentV3",
        404,
        "unknown-deployment",
        lambda f: Call(
            "GET", path("getDeploymentV3", id=a_deployment(f)[0], deployment_id=UNKNOWN)
        ),
    ),
    Case(
        "getDeploymentV3", 429, "fault", with_fault(Fault.rate_limited(1), get_deployment([None]))
    ),
    Case("getDeploymentV3", 503, "fault", with_fault(Fault.error(503), get_deployment([None]))),
    # cancelDeploymentV3
    Case("cancelDeploymentV3", 200, "ok", cancel),
    Case("cancelDeploymentV3", 400, "finished", lambda f: cancel(f, ["success"])),
    Case("cancelDeploymentV3", 401, "no-key", with_key(None, cancel)),
    Case(
        "cancelDeploymentV3",
        404,
        "unknown",
        lambda f: Call("POST", path("cancelDeploymentV3", id=UNKNOWN, deployment_id=UNKNOWN)),
    ),
    Case("cancelDeploymentV3", 429, "fault", with_fault(Fault.rate_limited(1), cancel)),
    # rollbackDeploymentV3
    Case("rollbackDeploymentV3", 200, "ok", rollback),
    Case(
        "rollbackDeploymentV3",
        400,
        "bad-id",
        lambda f: Call("POST", path("rollbackDeploymentV3", id="not-a-uuid")),
    ),
    Case("rollbackDeploymentV3", 401, "no-key", with_key(None, rollback)),
    Case(
        "rollbackDeploymentV3",
        404,
        "unknown",
        lambda f: Call("POST", path("rollbackDeploymentV3", id=UNKNOWN)),
    ),
    Case("rollbackDeploymentV3", 404, "nothing-to-roll-back-to", rollback_without_success),
    Case("rollbackDeploymentV3", 429, "fault", with_fault(Fault.rate_limited(1), rollback)),
    # getApplicationDeploymentLogsV3
    Case(LOGS, 200, "ok", logs),
    Case(LOGS, 200, "failing-app", failing_logs),
    Case(LOGS, 200, "filtered", lambda f: logs(f, filters=ERRORS_ONLY, limit="1")),
    Case(LOGS, 200, "range", lambda f: logs(f, **RANGE)),
    Case(LOGS, 400, "limit-5001", lambda f: logs(f, limit="5001")),
    Case(LOGS, 400, "from-not-utc", lambda f: logs(f, **{"from": "2026-01-01T00:00:00+01:00"})),
    Case(LOGS, 400, "filters-not-json", lambda f: logs(f, filters="severity=ERROR")),
    Case(LOGS, 400, "filter-operator", lambda f: logs(f, filters=LIKE)),
    Case(LOGS, 401, "no-key", with_key(None, logs)),
    Case(
        LOGS,
        404,
        "unknown",
        lambda f: Call("GET", path(LOGS, id=f.add_app(), deployment_id=UNKNOWN)),
    ),
    Case(LOGS, 429, "fault", with_fault(Fault.rate_limited(1), logs)),
]


def test_cases_cover_every_operation_with_success_and_errors() -> None:
    covered: dict[str, set[int]] = {}
    for case in CASES:
        covered.setdefault(case.operation, set()).add(case.status)
    for operation in OPERATIONS:
        expected = {200, 400, 401, 429}
        if "{id}" in OPERATIONS[operation]["path"]:
            expected.add(404)
        assert expected <= covered[operation], operation


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def _check(operation: str, reply: Reply, status: int) -> None:
    assert reply.status == status, reply.body
    assert reply.content_type == "application/json"
    errors = validate(operation, reply.status, reply.body)
    assert not errors, f"{operation} {reply.status} reply does not match the spec: {errors}"


@pytest.mark.sevalla_loopback
@pytest.mark.parametrize("case", CASES, ids=[f"{c.operation}-{c.status}-{c.name}" for c in CASES])
async def test_fake_reply_matches_spec(
    case: Case, fake: FakeSevalla, http: aiohttp.ClientSession
) -> None:
    call = case.act(fake)
    reply = await send(http, fake, call)
    _check(case.operation, reply, case.status)


RATE_LIMITED: list[tuple[str, Act]] = [
    ("promotePipelineV3", promote),
    ("listPipelinesV3", list_pipelines),
    ("getPipelineV3", get_pipeline),
    ("listDeploymentsV3", list_deployments_after_promotions),
    ("getDeploymentV3", get_deployment(["success"])),
    ("cancelDeploymentV3", cancel),
    ("rollbackDeploymentV3", rollback),
    (LOGS, logs),
]


@pytest.mark.sevalla_loopback
@pytest.mark.parametrize(("operation", "act"), [pytest.param(*p, id=p[0]) for p in RATE_LIMITED])
async def test_rate_limited_reply_matches_spec(
    operation: str, act: Act, http: aiohttp.ClientSession
) -> None:
    """The 429 of the fake's own rate-limit windows (not a scripted fault)."""
    clock = FakeClock()
    limit = RateLimit(1, window=60)
    async with FakeSevalla(read_limit=limit, write_limit=limit, clock=clock) as fake:
        first = await send(http, fake, act(fake))
        _check(operation, first, 200)
        second = await send(http, fake, act(fake))
        _check(operation, second, 429)

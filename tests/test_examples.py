"""The scripts in ``examples/`` run: standalone (each starts its own FakeSevalla when no
``SEVALLA_API_KEY`` is set) and imported, against the test's fake."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from sevalla_async import PromoteRequest, SevallaClient
from sevalla_async.testing import FakeSevalla, Fault

pytestmark = pytest.mark.sevalla_loopback  # real sockets: the CLI, TLS, proxies, wire format

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GUARD = 60  # seconds: turns a hang into a failure, never a timing assertion


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEVALLA_")}
    env.update(extra)
    return env


async def spawn(script: str, *args: str, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        str(EXAMPLES / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(**env),
    )


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), GUARD)
    assert proc.returncode is not None
    assert "Traceback" not in err.decode(), err.decode()
    return proc.returncode, out.decode(), err.decode()


# --- fanout.py ----------------------------------------------------------------------------


async def test_fanout_runs_standalone() -> None:
    code, out, err = await finish(await spawn("fanout.py"))

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("No SEVALLA_API_KEY: an embedded FakeSevalla at http://127.0.0.1:")
    assert len([line for line in lines if line.startswith("ok ")]) == 30  # 10 pipelines x 3
    assert lines[-1] == "10 of 10 promotions succeeded"


async def test_fanout_against_a_plan_with_a_key(fake: FakeSevalla, tmp_path: Path) -> None:
    requests = fake.promote_requests(3, targets=1)
    broken = {
        "pipeline_id": str(uuid.uuid4()),
        "source_app_id": str(requests[0].source_app_id),
        "target_app_ids": [str(requests[0].target_app_ids[0])],
    }
    plan = [
        {
            "pipeline_id": str(r.pipeline_id),
            "source_app_id": str(r.source_app_id),
            "target_app_ids": [str(t) for t in r.target_app_ids],
        }
        for r in requests
    ]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps([*plan, broken]), encoding="utf-8")

    code, out, err = await finish(
        await spawn(
            "fanout.py", str(path), SEVALLA_API_KEY=fake.api_key, SEVALLA_BASE_URL=fake.base_url
        )
    )

    assert code == 1, err
    assert out.count("ok      pipeline") == 3
    assert f"FAILED  pipeline {broken['pipeline_id']}: POST " in out
    assert "404 Pipeline not found" in out
    assert out.splitlines()[-1] == "3 of 4 promotions succeeded"
    assert len(fake.requests_to("POST", "/promote")) == 4


async def test_fanout_promote_all_keeps_order_bounds_concurrency_and_isolates_failures(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    fanout = load("fanout")
    requests = fake.promote_requests(6, targets=2)
    fake.inject(Fault.error(503), path=f"/pipelines/{requests[4].pipeline_id}/promote")

    outcomes = await fanout.promote_all(client, requests, concurrency=2)

    assert [o.index for o in outcomes] == list(range(6))
    assert [o.request for o in outcomes] == requests
    assert [o.ok for o in outcomes] == [True, True, True, True, False, True]
    assert outcomes[4].error.status_code == 503
    assert fake.max_in_flight <= 2
    for outcome in outcomes[:4]:
        assert [p.target_app_id for p in outcome.promotions] == list(outcome.request.target_app_ids)


def test_fanout_load_plan_names_the_bad_entry(tmp_path: Path) -> None:
    fanout = load("fanout")
    good = {"pipeline_id": str(uuid.uuid4()), "source_app_id": str(uuid.uuid4())}
    path = tmp_path / "plan.json"
    path.write_text(
        json.dumps(
            [
                {**good, "target_app_ids": [str(uuid.uuid4())]},
                {**good, "target_app_ids": ["nope"]},
            ]
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"^entry 1: target_app_ids\[0\]: 'nope'"):
        fanout.load_plan(str(path))


# --- aiohttp_backend.py -------------------------------------------------------------------


@pytest.fixture
async def backend(fake: FakeSevalla) -> AsyncIterator[tuple[Any, TestServer]]:
    """The example's web app on a real 127.0.0.1 socket, bound to the test's fake."""
    module = load("aiohttp_backend")
    app = module.create_app(api_key=fake.api_key, base_url=fake.base_url)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield module, server
    finally:
        await server.close()


async def _post(server: TestServer, body: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.make_url("/promote"), data=json.dumps(body)) as reply,
    ):
        return reply.status, await reply.json()


def _body(request: PromoteRequest) -> dict[str, Any]:
    return {
        "pipeline_id": str(request.pipeline_id),
        "source_app_id": str(request.source_app_id),
        "target_app_ids": [str(t) for t in request.target_app_ids],
    }


async def test_backend_promotes_through_its_shared_session(
    fake: FakeSevalla, backend: tuple[Any, TestServer]
) -> None:
    module, server = backend
    request = fake.promote_requests(1, targets=2)[0]

    status, body = await _post(server, _body(request))

    assert status == 200
    assert [p["target_app_id"] for p in body["promotions"]] == [
        str(t) for t in request.target_app_ids
    ]
    for p in body["promotions"]:
        assert str(fake.deployment(p["deployment_id"]).app_id) == p["target_app_id"]
    app = server.app
    assert app is not None
    session = app[module.SESSION]
    assert "session=borrowed" in repr(app[module.SEVALLA])
    assert not session.closed
    await server.close()
    assert session.closed  # the app's cleanup_ctx closed it, after the SDK let go


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", "the body must be JSON"),
        ({"pipeline_id": "x"}, "source_app_id: required field is missing"),
        (
            {
                "pipeline_id": str(uuid.uuid4()),
                "source_app_id": str(uuid.uuid4()),
                "target_app_ids": [str(uuid.uuid4()), "x"],
            },
            "target_app_ids[1]: 'x' is not a valid UUID",
        ),
    ],
    ids=["not-json", "missing-field", "bad-target"],
)
async def test_backend_refuses_bad_input_before_calling_the_api(
    fake: FakeSevalla, backend: tuple[Any, TestServer], body: Any, error: str
) -> None:
    _, server = backend
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.make_url("/promote"),
            data=body if isinstance(body, str) else json.dumps(body),
        ) as reply,
    ):
        status, answer = reply.status, await reply.json()
    assert status == 400
    assert answer["error"].startswith(error)
    assert fake.requests == []


async def test_backend_maps_api_errors(fake: FakeSevalla, backend: tuple[Any, TestServer]) -> None:
    _, server = backend
    request = fake.promote_requests(1)[0]
    unknown = PromoteRequest(uuid.uuid4(), request.source_app_id, request.target_app_ids)

    status, body = await _post(server, _body(unknown))

    assert status == 502
    assert body == {
        "error": "Pipeline not found",
        "status": 404,
        "request_id": fake.requests[-1].request_id,
    }


async def test_backend_runs_standalone() -> None:
    proc = await spawn("aiohttp_backend.py", "--port", "0")
    assert proc.stdout is not None
    text = ""
    while "curl" not in text:
        line = await asyncio.wait_for(proc.stdout.readline(), GUARD)
        assert line, "the example exited early"
        text += line.decode()
    url = re.search(r"curl -s -X POST (\S+)", text)
    sample = re.search(r"-d '(.+)'", text)
    assert url is not None
    assert sample is not None

    async with (
        aiohttp.ClientSession() as http,
        http.post(url.group(1), data=sample.group(1)) as reply,
    ):
        status, body = reply.status, await reply.json()
    proc.send_signal(signal.SIGINT)
    code, _, err = await finish(proc)

    assert status == 200
    assert len(body["promotions"]) == 2
    assert code == 0, err


# --- promote_then_wait.py -----------------------------------------------------------------


async def test_promote_then_wait_runs_standalone() -> None:
    code, out, err = await finish(await spawn("promote_then_wait.py"))

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("No SEVALLA_API_KEY: an embedded FakeSevalla at http://127.0.0.1:")
    apps = [line.split()[2].rstrip(":") for line in lines if line.startswith("started  app ")]
    assert len(apps) == 3
    for app in apps:
        changes = [line.split()[-1] for line in lines if line.startswith(f"         app {app}:")]
        assert changes == ["waiting", "inProgress", "success"]
    assert len([line for line in lines if line.startswith("ok       app ")]) == 3
    assert lines[-1] == "3 of 3 deployments succeeded"


async def test_promote_then_wait_reports_failures_and_timeouts(
    fake: FakeSevalla, client: SevallaClient, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("promote_then_wait")
    (request,) = fake.promote_requests(1, targets=3)
    failing, stuck, fine = request.target_app_ids
    fake.script_deployments(["waiting", "failed"], app_id=failing)
    fake.script_deployments(["inProgress"], app_id=stuck)

    failed = await example.promote_then_wait(
        client, request.pipeline_id, request.source_app_id, request.target_app_ids, timeout=60
    )

    assert failed == 2
    out = capsys.readouterr().out.splitlines()
    ids = {d.app_id: d.id for d in fake.state.deployments.values() if d.trigger == "PROMOTION"}
    assert out[-4:] == [
        f"FAILED   app {failing}: deployment {ids[failing]} ended failed",
        f"TIMEOUT  app {stuck}: deployment {ids[stuck]} still inProgress",
        f"ok       app {fine}: deployment {ids[fine]} succeeded",
        "1 of 3 deployments succeeded",
    ]
    assert fake.deployment(ids[stuck]).polls > 3  # it was polled until the timeout


async def test_promote_then_wait_with_a_key(fake: FakeSevalla) -> None:
    (request,) = fake.promote_requests(1, targets=1)
    fake.script_deployments(["success"])  # seen on the first poll: the script never sleeps
    env = {"SEVALLA_API_KEY": fake.api_key, "SEVALLA_BASE_URL": fake.base_url}
    args = [str(request.pipeline_id), str(request.source_app_id), str(request.target_app_ids[0])]

    (code, out, err), (usage, _, problem) = await asyncio.gather(
        finish(await spawn("promote_then_wait.py", *args, **env)),
        finish(await spawn("promote_then_wait.py", *args[:2], **env)),
    )

    assert code == 0, err
    assert out.splitlines()[-1] == "1 of 1 deployments succeeded"
    assert usage == 2
    assert "usage:" in problem
    assert len(fake.requests_to("POST", "/promote")) == 1

"""The transport seam: SevallaClient(transport=...), the in-memory fake transport (from any
loop or thread, FastAPI's sync TestClient included) and the layering of the modules."""

from __future__ import annotations

import ast
import pathlib

import pytest

import sevalla_async
from sevalla_async import (
    AiohttpTransport,
    APIConnectionError,
    SevallaClient,
    Transport,
    TransportRequest,
    TransportResponse,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


def test_transport_with_aiohttp_options_is_refused() -> None:
    fake = FakeSevalla()
    with pytest.raises(ValueError, match=r"transport.*connection_limit.*proxy"):
        SevallaClient("k", transport=fake.transport(), connection_limit=5, proxy="http://p")


def test_the_default_transport_is_a_transport() -> None:
    assert isinstance(AiohttpTransport(), Transport)
    assert isinstance(FakeSevalla().transport(), Transport)


async def test_a_custom_transport_sees_one_request_per_attempt() -> None:
    fake = FakeSevalla()
    inner = fake.transport()
    seen: list[TransportRequest] = []

    class Recording:
        async def send(self, request: TransportRequest) -> TransportResponse:
            seen.append(request)
            return await inner.send(request)

        async def aclose(self) -> None:
            await inner.aclose()

    request = fake.promote_requests(1)[0]
    fake.inject(Fault.error(500), method="GET")
    async with SevallaClient(fake.api_key, transport=Recording(), max_retries=1) as client:
        await client.pipelines.promote_request(request)
        assert [p.id async for p in client.pipelines.list()] == [request.pipeline_id]
    assert [r.method for r in seen] == ["POST", "GET", "GET"]
    assert seen[1].url.endswith("/v3/pipelines?limit=100&offset=0")
    assert seen[0].headers["Content-Type"] == "application/json"
    assert seen[0].max_response_size == 1024 * 1024


async def test_in_memory_drop_is_a_connection_error_and_the_promotion_happened() -> None:
    clock = FakeClock()
    fake = FakeSevalla(clock=clock)
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.disconnect("after"), method="POST")
    async with SevallaClient(
        fake.api_key, transport=fake.transport(), sleep=clock.sleep, clock=clock
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.pipelines.promote_request(request)
    assert info.value.request_sent is True
    assert len(fake.requests_to("POST", "/promote")) == 1  # a POST is not retried
    assert len(fake.state.deployments) > len(request.target_app_ids)


async def test_in_memory_delay_moves_the_fake_clock_exactly() -> None:
    clock = FakeClock()
    fake = FakeSevalla(clock=clock)
    fake.add_pipeline()
    fake.inject(Fault.slow(7))
    async with SevallaClient(
        fake.api_key, transport=fake.transport(), sleep=clock.sleep, clock=clock
    ) as client:
        start = clock()
        assert len([p async for p in client.pipelines.list()]) == 1
    assert clock() - start == 7


def test_fastapi_sync_testclient_with_the_in_memory_fake() -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    fake = FakeSevalla()
    request = fake.promote_requests(1, targets=2)[0]
    app = fastapi.FastAPI()

    @app.post("/release")
    async def release() -> dict[str, list[str]]:
        async with SevallaClient(fake.api_key, transport=fake.transport()) as client:
            promotions = await client.pipelines.promote_request(request)
        return {"deployments": [str(p.deployment_id) for p in promotions]}

    with TestClient(app) as http:
        reply = http.post("/release")
    assert reply.status_code == 200
    assert len(reply.json()["deployments"]) == 2
    assert [r.status for r in fake.requests_to("POST", "/promote")] == [200]


# --- layering ------------------------------------------------------------------------------

# Lower layers first; a module may import only modules of its own layer or below.
_LAYERS = [
    {
        "_version",
        "_logging",
        "_logsafe",
        "_inflate",
        "_ids",
        "_build",
        "_outcomes",
        "_record",
        "_errors",
        "_models",
        "_convert",
        "_transport",
        "_proxy",
        "_secret",
        "_engine",
    },
    {"_protocol", "_logs", "_retry", "_response", "_evidence"},
    {"_ratelimit", "_hooks"},
    {"_core"},
    {
        "_fanout",
        "_fanout_outcomes",
        "_repeats",
        "_wait",
        "_wait_settings",
        "_pacer",
        "_reconcile",
        "_resolve",
        "_releases",
        "_release_checks",
        "_release_reports",
        "_options",
    },
    {"_resources"},
    {"_client"},
    {"__init__", "__main__", "_cli", "testing"},
]


def _layer(name: str) -> int:
    for index, layer in enumerate(_LAYERS):
        if name in layer:
            return index
    raise AssertionError(f"module {name} is in no layer of the test")


def _imports(path: pathlib.Path, root: pathlib.Path) -> set[str]:
    """The top-level sevalla_async modules ``path`` imports, TYPE_CHECKING included."""
    package = path.relative_to(root).parts
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - node.level])
            parts = base + (node.module.split(".") if node.module else [])
            if parts:
                found.add(parts[0])
            else:  # from . import x: a module, or a name of the package's __init__
                for alias in node.names:
                    is_module = (root / alias.name).is_dir() or (root / f"{alias.name}.py").exists()
                    found.add(alias.name if is_module else "__init__")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sevalla_async."):
            found.add(node.module.split(".")[1])  # type: ignore[union-attr]
    return found


def test_no_module_imports_a_higher_layer() -> None:
    root = pathlib.Path(sevalla_async.__file__).parent
    for path in root.rglob("*.py"):
        top = path.relative_to(root).parts[0].removesuffix(".py")
        for imported in _imports(path, root) - {top}:
            assert _layer(imported) <= _layer(top), f"{path.relative_to(root)} -> {imported}"

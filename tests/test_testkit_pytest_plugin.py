"""The pytest plugin as users meet it: their own test files, run by pytester, with the
plugin loaded through its ``pytest11`` entry point (no conftest, no import of it)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INI = """\
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:hypothesispytest
"""
# (hypothesis's plugin re-imports hypothesis in every in-process run: seconds each)

USER_TESTS = """
import pytest

from sevalla_async import AuthenticationError, NotFoundError, RateLimitError
from sevalla_async.testing import Fault, RateLimit


async def test_promote_through_the_fixtures(sevalla_fake, sevalla_client):
    request = sevalla_fake.promote_requests(1, targets=2)[0]

    promotions = await sevalla_client.pipelines.promote_request(request)

    assert [p.target_app_id for p in promotions] == list(request.target_app_ids)
    (sent,) = sevalla_fake.requests
    assert sent.method == "POST"
    assert sent.path.endswith(f"/pipelines/{request.pipeline_id}/promote")
    assert sent.json()["source_app_id"] == str(request.source_app_id)
    assert sent.status == 200


async def test_a_scripted_429_is_retried_on_the_fake_clock(
    sevalla_fake, sevalla_client, sevalla_clock
):
    request = sevalla_fake.promote_requests(1)[0]
    sevalla_fake.inject(Fault.rate_limited(retry_after=7), method="POST")

    await sevalla_client.pipelines.promote_request(request)

    assert [r.status for r in sevalla_fake.requests_to("POST", "/promote")] == [429, 200]
    assert sevalla_clock.sleeps == [7]
    assert sevalla_fake.pending_faults == 0


async def test_a_scripted_error_reaches_the_code_under_test(sevalla_fake, sevalla_client):
    pipeline = sevalla_fake.add_pipeline()
    sevalla_fake.inject(Fault.error(404, "Pipeline not found"), path=str(pipeline.id))

    with pytest.raises(NotFoundError) as info:
        await sevalla_client.pipelines.get(pipeline.id)

    assert info.value.request_id == sevalla_fake.requests[-1].request_id


async def test_each_test_gets_a_fresh_fake(sevalla_fake, sevalla_clock):
    assert sevalla_fake.requests == []
    assert sevalla_fake.pending_faults == 0
    assert sevalla_clock.sleeps == []


@pytest.mark.sevalla_fake(write_limit=RateLimit(1, window=10), api_key="my-test-key")
async def test_the_fake_marker_sets_options(sevalla_fake, sevalla_client, sevalla_clock):
    first, second = sevalla_fake.promote_requests(2)

    await sevalla_client.pipelines.promote_request(first)
    await sevalla_client.pipelines.promote_request(second)

    assert sevalla_fake.api_key == "my-test-key"
    # the budget was spent: the client held the second call until the window reset
    # (on the fake clock) instead of spending a 429
    assert [r.status for r in sevalla_fake.requests] == [200, 200]
    assert sevalla_clock.slept >= 9


@pytest.mark.sevalla_client(max_retries=0)
async def test_the_client_marker_sets_options(sevalla_fake, sevalla_client):
    request = sevalla_fake.promote_requests(1)[0]
    sevalla_fake.inject(Fault.rate_limited(retry_after=1))

    with pytest.raises(RateLimitError) as info:
        await sevalla_client.pipelines.promote_request(request)

    assert info.value.retry_after == 1
    assert len(sevalla_fake.requests) == 1


async def test_more_clients_from_the_factory(sevalla_fake, sevalla_client_factory):
    pipeline = sevalla_fake.add_pipeline()
    stranger = sevalla_client_factory(api_key="not-the-key")
    patient = sevalla_client_factory(max_retries=5)

    with pytest.raises(AuthenticationError):
        await stranger.pipelines.get(pipeline.id)
    sevalla_fake.inject(Fault.error(503), times=4)
    assert (await patient.pipelines.get(pipeline.id)).id == pipeline.id
"""


def _user_project(pytester: pytest.Pytester, mode: str = "auto") -> None:
    pytester.makeini(INI.format(mode=mode))


def test_user_tests_pass_with_the_fixtures(pytester: pytest.Pytester) -> None:
    _user_project(pytester)
    pytester.makepyfile(test_user=USER_TESTS)

    result = pytester.runpytest()

    result.assert_outcomes(passed=7)


def test_a_failing_user_test_fails(pytester: pytest.Pytester) -> None:
    """The fixtures do not swallow failures (nor leak warnings that would hide them)."""
    _user_project(pytester)
    pytester.makepyfile(
        test_user="""
        async def test_wrong_expectation(sevalla_fake, sevalla_client):
            request = sevalla_fake.promote_requests(1)[0]
            await sevalla_client.pipelines.promote_request(request)
            assert len(sevalla_fake.requests) == 2
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 2*"])


def test_strict_mode_with_asyncio_marks(pytester: pytest.Pytester) -> None:
    _user_project(pytester, mode="strict")
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.asyncio
        async def test_strict(sevalla_fake, sevalla_client):
            pipeline = sevalla_fake.add_pipeline(name="strict")
            assert (await sevalla_client.pipelines.get(pipeline.id)).display_name == "strict"
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(passed=1)


def test_markers_are_registered_and_documented(pytester: pytest.Pytester) -> None:
    _user_project(pytester)

    result = pytester.runpytest("--markers")

    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.sevalla_fake(**options): keyword arguments for the FakeSevalla*",
            "@pytest.mark.sevalla_client(**options): keyword arguments for the SevallaClient*",
        ]
    )


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    _user_project(pytester)
    pytester.makepyfile(test_user="def test_nothing(): pass")

    result = pytester.runpytest("--fixtures", "-v")

    text = result.stdout.str()
    for name in ("sevalla_fake", "sevalla_client", "sevalla_clock", "sevalla_client_factory"):
        assert f"{name} -- " in text or f"{name} [" in text, name
    result.stdout.fnmatch_lines(["*A FakeSevalla (options from*"])


def test_a_marker_with_positional_arguments_is_refused(pytester: pytest.Pytester) -> None:
    _user_project(pytester)
    pytester.makepyfile(
        test_user="""
        import pytest

        @pytest.mark.sevalla_fake("oops")
        async def test_positional(sevalla_fake):
            pass
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*TypeError: @pytest.mark.sevalla_fake takes keyword arguments only*"]
    )


# --- every runner and framework, in pytest-asyncio's strict and auto modes ------------------

FRAMEWORK_TESTS = """
import uuid
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient as AiohttpTestClient, TestServer
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient as FastAPITestClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient as StarletteTestClient

from sevalla_async import SevallaClient


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.asyncio
async def test_marked_asyncio(sevalla_fake, sevalla_client, sevalla_clock):
    request = sevalla_fake.promote_requests(1)[0]
    await sevalla_client.pipelines.promote_request(request)
    assert len(sevalla_fake.requests) == 1


@pytest.mark.anyio
async def test_anyio(sevalla_fake, sevalla_client, sevalla_client_factory):
    pipeline = sevalla_fake.add_pipeline(name="anyio")
    assert (await sevalla_client.pipelines.get(pipeline.id)).display_name == "anyio"
    other = sevalla_client_factory(max_retries=0)
    assert (await other.pipelines.get(pipeline.id)).id == pipeline.id


def _memory_client(fake):
    return lambda: SevallaClient(fake.api_key, transport=fake.transport())


def test_fastapi_sync_test_client(sevalla_fake):
    pipeline = sevalla_fake.add_pipeline(name="fastapi")

    @asynccontextmanager
    async def lifespan(app):
        async with _memory_client(sevalla_fake)() as client:
            app.state.sevalla = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/name/{pipeline_id}")
    async def name(pipeline_id: str, request: Request):
        return (await request.app.state.sevalla.pipelines.get(pipeline_id)).display_name

    with FastAPITestClient(app) as http:
        for _ in range(3):  # the app's own loop, in another thread, several requests
            assert http.get(f"/name/{pipeline.id}").json() == "fastapi"
    assert len(sevalla_fake.requests) == 3


def test_starlette_sync_test_client(sevalla_fake):
    pipeline = sevalla_fake.add_pipeline(name="starlette")
    make = _memory_client(sevalla_fake)

    async def name(request):
        async with make() as client:
            pipeline = await client.pipelines.get(request.path_params["id"])
        return JSONResponse(pipeline.display_name)

    app = Starlette(routes=[Route("/name/{id}", name)])
    with StarletteTestClient(app) as http:
        assert http.get(f"/name/{pipeline.id}").json() == "starlette"


@pytest.mark.asyncio
async def test_aiohttp_test_client(sevalla_fake, sevalla_client):
    pipeline = sevalla_fake.add_pipeline(name="aiohttp")
    key = web.AppKey("sevalla", SevallaClient)

    async def name(request):
        found = await request.app[key].pipelines.get(request.match_info["id"])
        return web.json_response(found.display_name)

    app = web.Application()
    app[key] = sevalla_client
    app.router.add_get("/name/{id}", name)
    async with AiohttpTestClient(TestServer(app)) as http:
        reply = await http.get(f"/name/{pipeline.id}")
        assert await reply.json() == "aiohttp"
        missing = await http.get(f"/name/{uuid.uuid4()}")
        assert missing.status == 500  # NotFoundError inside the handler
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_every_runner_and_framework(pytester: pytest.Pytester, mode: str) -> None:
    _user_project(pytester, mode=mode)
    pytester.makepyfile(test_frameworks=FRAMEWORK_TESTS)

    result = pytester.runpytest_subprocess()

    result.assert_outcomes(passed=5)


def test_strict_mode_refuses_unmarked_async_tests(pytester: pytest.Pytester) -> None:
    """Why the docs mark their async tests: without the mark (and without auto mode)
    pytest-asyncio leaves them alone and pytest fails them."""
    _user_project(pytester, mode="strict")
    pytester.makepyfile(
        test_user="""
        async def test_unmarked(sevalla_fake, sevalla_client):
            pass
        """
    )

    result = pytester.runpytest()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*async def functions are not natively supported*"])

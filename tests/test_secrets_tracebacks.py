"""Issue 21, item 1: no frame of a failed call holds the API key where a traceback rendered
with its locals (``pytest -l``, ``TracebackException(capture_locals=True)``, Sentry) or a
``repr`` would show it.

Each failure is real: a 5xx from a raw socket server, a refused connection, an aiohttp
timeout. The whole chain (the SDK's frames, and aiohttp's frames that the SDK hands the
headers to) is rendered with locals.
"""

from __future__ import annotations

import asyncio
import socket
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sevalla_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InternalServerError,
    SevallaClient,
    TransportRequest,
    TransportResponse,
)
from sevalla_async._secret import AuthorizedHeaders, HiddenStr, Secret
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

from .secret_graph import assert_secret_unreachable
from .test_hostile import KEY, RawRequest, RawServer, ids, promote_args, reply


def rendered(error: BaseException) -> str:
    """The error's whole chain, every frame with its locals."""
    shown = traceback.TracebackException.from_exception(error, capture_locals=True)
    return "".join(shown.format())


def check(error: BaseException, client: SevallaClient) -> str:
    text = rendered(error)
    assert "request_with_reply" in text  # the request loop's frame is there...
    assert "headers = " in text  # ...with its locals rendered
    assert KEY not in text
    assert_secret_unreachable(error, KEY)
    assert assert_secret_unreachable(client, KEY) > 10
    return text


def client_for(base_url: str, clock: FakeClock, **options: Any) -> SevallaClient:
    options.setdefault("max_retries", 0)
    return SevallaClient(
        KEY,
        base_url=base_url,
        sleep=clock.sleep,
        clock=clock,
        wall_clock=clock.wall,
        trust_env=False,
        **options,
    )


async def test_a_5xx_reply() -> None:
    clock = FakeClock()
    async with RawServer(lambda _: reply(503, b'{"message": "down"}')) as server:
        client = client_for(server.base_url, clock, max_retries=1)
        async with client:
            with pytest.raises(InternalServerError) as get:
                await client.pipelines.get(ids())
            with pytest.raises(InternalServerError) as promote:
                await client.pipelines.promote(ids(), **promote_args())
            check(get.value, client)
            check(promote.value, client)
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_refused_connection() -> None:
    clock = FakeClock()
    url = f"http://127.0.0.1:{_closed_port()}/v3"
    async with client_for(url, clock) as client:
        with pytest.raises(APIConnectionError) as refused:
            await client.pipelines.promote(ids(), **promote_args())
        assert refused.value.request_sent is False
        text = check(refused.value, client)
    assert "aiohttp" in text  # aiohttp's frames, where the headers went, were rendered


@pytest.fixture
async def silent_server() -> AsyncIterator[RawServer]:
    never = asyncio.Event()

    async def hold(_: RawRequest) -> bytes:
        await never.wait()
        return b""

    async with RawServer(hold) as server:
        yield server


async def test_an_aiohttp_timeout(silent_server: RawServer) -> None:
    clock = FakeClock()  # the call's deadline does not move: aiohttp's own timer fires
    async with client_for(silent_server.base_url, clock, timeout=0.05) as client:
        with pytest.raises(APITimeoutError) as late:
            await client.pipelines.promote(ids(), **promote_args())
        text = check(late.value, client)
    assert "aiohttp" in text


async def test_an_in_memory_timeout_and_a_custom_transport_from_0_2() -> None:
    """The in-memory transport (its own timeout) and a transport written for 0.2 that
    forwards ``request.headers`` as they are: it still authenticates."""
    clock = FakeClock()
    fake = FakeSevalla(api_key=KEY, clock=clock)
    seen: list[TransportRequest] = []

    class Forwarding:
        def __init__(self) -> None:
            self.inner = fake.transport()

        async def send(self, request: TransportRequest) -> TransportResponse:
            seen.append(request)
            headers = dict(request.headers)  # what a 0.2 transport did
            assert headers["Authorization"] == f"Bearer {KEY}"
            return await self.inner.send(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    pipeline = fake.add_pipeline()
    async with SevallaClient(
        KEY, transport=Forwarding(), sleep=clock.sleep, clock=clock, timeout=5
    ) as client:
        assert (await client.pipelines.get(pipeline.id)).id == pipeline.id
        assert KEY not in repr(seen[0])
        fake.inject(Fault(delay=60))
        with pytest.raises(APIError) as late:
            await client.pipelines.promote(ids(), **promote_args())
        assert isinstance(late.value, APITimeoutError)
        check(late.value, client)
    assert fake.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_the_holders_never_show_the_key() -> None:
    from sevalla_async._transport import wire_headers

    secret = Secret(KEY)
    headers = AuthorizedHeaders({"Accept": "application/json"}, secret)
    for shown in (secret, headers, headers["Authorization"], wire_headers(headers, {})):
        assert KEY not in repr(shown)
    assert KEY not in str(secret)
    assert isinstance(headers["authorization"], HiddenStr)
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert dict(headers) == {"Accept": "application/json", "Authorization": f"Bearer {KEY}"}
    assert secret.reveal() == KEY
    with pytest.raises(TypeError):
        __import__("pickle").dumps(secret)

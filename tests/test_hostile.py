"""Hostile servers and odd environments (issue #10), against a raw asyncio socket server
whose every byte the test controls.

Each test reproduces one item of the issue; item 8 (the CLI echoing a key pasted in the
wrong place) is covered by tests/test_cli_polish.py::test_the_key_is_never_echoed, and the
CLI's error paths are checked here with :func:`assert_secret_unreachable` too. Asyncio debug
mode is on for the whole module; waits run on a :class:`FakeClock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import json
import logging
import os
import subprocess
import sys
import threading
import tracemalloc
import uuid
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import attrs
import pytest

from sevalla_async import (
    APIConnectionError,
    APIResponseValidationError,
    InternalServerError,
    PromoteRequest,
    PromotionState,
    RateLimitError,
    SevallaClient,
    SevallaError,
    WaitAllError,
)
from sevalla_async._cli import main as cli_main
from sevalla_async._errors import ClientClosedError
from sevalla_async.testing import FakeClock, FakeSevalla

from .secret_graph import assert_secret_unreachable

KEY = "sk-hostile-" + uuid.uuid4().hex
BOMB_SIZE = 128 * 1024 * 1024


@pytest.fixture(autouse=True)
async def _debug_loop() -> None:
    asyncio.get_running_loop().set_debug(True)


# --- the raw server --------------------------------------------------------------------


@attrs.define
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Respond = Callable[[RawRequest], Awaitable[bytes] | bytes]


def reply(
    status: int | str = 200,
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    *,
    content_length: int | None = None,
) -> bytes:
    """Raw HTTP/1.1 bytes; ``Connection: close`` so nothing stays pooled after a test."""
    head = {"Content-Type": "application/json", "Connection": "close", **(headers or {})}
    head["Content-Length"] = str(len(body) if content_length is None else content_length)
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in head.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


class RawServer:
    """127.0.0.1 server: reads one request per connection, writes what ``respond`` returns."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.requests: list[RawRequest] = []
        self.connections = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v3"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=1 << 20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            fields = (h.partition(":") for h in head[1:] if h)
            headers = {k.strip().lower(): v.strip() for k, _, v in fields}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = RawRequest(method, target, headers, body)
            self.requests.append(request)
            data = self.respond(request)
            if not isinstance(data, bytes):
                data = await data
            writer.write(data)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)


@contextlib.asynccontextmanager
async def raw_client(
    respond: Respond, **options: Any
) -> AsyncIterator[tuple[RawServer, SevallaClient, FakeClock]]:
    clock = FakeClock()
    options.setdefault("max_retries", 0)
    async with RawServer(respond) as server:
        client = SevallaClient(
            KEY,
            base_url=server.base_url,
            sleep=clock.sleep,
            clock=clock,
            wall_clock=clock.wall,
            trust_env=False,
            **options,
        )
        try:
            yield server, client, clock
        finally:
            await client.aclose()


def ids() -> str:
    return str(uuid.uuid4())


def promote_args() -> dict[str, Any]:
    return {"source_app_id": ids(), "target_app_ids": [ids()]}


def promote_body(request: RawRequest) -> bytes:
    targets = json.loads(request.body)["target_app_ids"]
    return json.dumps([{"target_app_id": t, "deployment_id": ids()} for t in targets]).encode()


def deployment_json(status: str = "success") -> dict[str, Any]:
    fake = FakeSevalla()
    deployment = fake.add_deployment(fake.add_app(), script=[status])
    return deployment.to_json()


async def until(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds (real I/O on loopback; callers bound it)."""
    while not condition():  # noqa: ASYNC110 - the condition is the server's, no event to wait on
        await asyncio.sleep(0.002)


async def raises(call: Awaitable[Any], kind: type[BaseException]) -> Any:
    """The error ``call`` raises, checked for its class and for the key's absence."""
    with pytest.raises(kind) as info:
        await call
    assert assert_secret_unreachable(info.value, KEY) > 1
    return info.value


# --- 1. gzip bomb ----------------------------------------------------------------------


def _gzip_bomb() -> bytes:
    """128 MiB of zeros, gzipped in 1 MiB steps (never held whole): about 130 KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [packer.compress(block) for _ in range(BOMB_SIZE // len(block))]
    return b"".join(parts) + packer.flush()


async def test_gzip_bomb_costs_at_most_the_cap() -> None:
    bomb = _gzip_bomb()
    assert len(bomb) < 200_000
    headers = {"Content-Encoding": "gzip"}
    async with raw_client(lambda _: reply(200, bomb, headers)) as (_, client, _clock):
        tracemalloc.start()
        try:
            error = await raises(client.pipelines.get(ids()), APIResponseValidationError)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    cap = 1024 * 1024
    print(f"gzip bomb ({len(bomb)} B -> 128 MiB): peak traced memory {peak / 2**20:.2f} MiB")
    assert error.status_code == 200
    assert "max_response_size" in str(error)
    assert peak < 4 * cap


# --- 2. deep JSON ----------------------------------------------------------------------

DEEP = b"[" * 5000


async def test_deep_json_on_a_200_promote_is_a_validation_error() -> None:
    async with raw_client(lambda _: reply(200, DEEP)) as (_, client, _clock):
        error = await raises(client.pipelines.promote(ids(), **promote_args()), SevallaError)
    assert isinstance(error, APIResponseValidationError)
    assert error.status_code == 200


async def test_deep_json_on_a_500_still_picks_the_class_by_status() -> None:
    async with raw_client(lambda _: reply(500, DEEP)) as (_, client, _clock):
        error = await raises(client.pipelines.get(ids()), InternalServerError)
    assert error.status_code == 500


async def test_deep_json_on_a_503_to_a_get_is_retried() -> None:
    async with raw_client(lambda _: reply(503, DEEP), max_retries=2) as (server, client, _c):
        error = await raises(client.pipelines.get(ids()), InternalServerError)
    assert error.status_code == 503
    assert len(server.requests) == 3


async def test_deep_json_inside_wait_all_keeps_the_other_results() -> None:
    good = json.dumps(deployment_json("success")).encode()
    pairs = [(ids(), ids()) for _ in range(20)]
    bad_path = f"/v3/applications/{pairs[7][0]}/deployments/{pairs[7][1]}"

    def respond(request: RawRequest) -> bytes:
        return reply(200, DEEP if request.target.startswith(bad_path) else good)

    async with raw_client(respond) as (_, client, _clock):
        error = await raises(client.deployments.wait_all(pairs, poll_interval=0.01), WaitAllError)
    assert isinstance(error.results[7], APIResponseValidationError)
    assert sum(1 for r in error.results if not isinstance(r, SevallaError)) == 19


# --- 3. rate-limit holds -----------------------------------------------------------------


@pytest.mark.parametrize("timeout", [2, None])
@pytest.mark.parametrize("reset", ["1000000000", "3600", "epoch+3600"])
async def test_a_rate_limit_hold_is_bounded(reset: str, timeout: float | None) -> None:
    def respond(request: RawRequest) -> bytes:
        value = reset
        if value == "epoch+3600":
            value = str(int(clock.wall()) + 3600)
        rate = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": value}
        return reply(200, promote_body(request), rate)

    options = {"timeout": timeout, "max_rate_limit_wait": 3}
    async with raw_client(respond, **options) as (_, client, clock):
        requests = [PromoteRequest(ids(), ids(), [ids()]) for _ in range(3)]
        outcomes = await asyncio.wait_for(
            client.pipelines.promote_many(requests, concurrency=1), 30
        )
    assert outcomes[0].ok
    assert all(s <= 3 for s in clock.sleeps)
    if reset == "1000000000":
        # Read as a Unix time (2001), long past: the window has reset, nothing waits.
        assert all(outcome.ok for outcome in outcomes)
        return
    for outcome in outcomes[1:]:
        assert outcome.error is not None
        assert_secret_unreachable(outcome.error, KEY)
        assert isinstance(outcome.error, (RateLimitError, APIConnectionError))
        assert not outcome.sent


async def test_a_rate_limit_hold_is_bounded_with_an_aiohttp_timeout() -> None:
    rate = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "3600"}
    options = {"timeout": aiohttp.ClientTimeout(total=2), "max_rate_limit_wait": 3}
    async with raw_client(lambda r: reply(200, promote_body(r), rate), **options) as (
        _,
        client,
        clock,
    ):
        await client.pipelines.promote(ids(), **promote_args())
        error = await raises(
            asyncio.wait_for(client.pipelines.promote(ids(), **promote_args()), 30),
            RateLimitError,  # ClientRateLimitError: a hold too long to make; not sent
        )
    assert error.promotion_state is PromotionState.NOT_SENT
    assert error.attempts == 0
    assert "max_rate_limit_wait" in str(error)
    assert all(s <= 3 for s in clock.sleeps)


# --- 4. the key is not reachable from aiohttp's parse errors ----------------------------

BROKEN_REPLIES = {
    "header line without a colon": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nno colon here\r\n\r\n{}"
    ),
    "over-long header": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n{}",
    "status 2000": b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("name", list(BROKEN_REPLIES))
async def test_the_key_is_not_reachable_from_a_parse_error(name: str) -> None:
    async with raw_client(lambda _: BROKEN_REPLIES[name]) as (_, client, _clock):
        error = await raises(client.pipelines.get(ids()), APIConnectionError)
    chain: BaseException | None = error
    while chain is not None:
        assert not hasattr(chain, "request_info")
        chain = chain.__cause__ or chain.__context__


# --- 5. loopback is never proxied --------------------------------------------------------


async def test_a_loopback_base_url_never_goes_through_the_env_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with RawServer(lambda _: reply(407, b"")) as proxy:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.base_url.removesuffix("/v3"))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        async with RawServer(lambda r: reply(200, promote_body(r))) as api:
            client = SevallaClient(KEY, base_url=api.base_url, max_retries=0)
            async with client:
                await client.pipelines.promote(ids(), **promote_args())
    assert proxy.connections == 0
    assert len(api.requests) == 1


# --- 6. aclose() with calls queued ----------------------------------------------------------


async def test_closing_fails_queued_calls_as_not_sent() -> None:
    never = asyncio.Event()

    async def hold(request: RawRequest) -> bytes:
        if len(server.requests) == 1:  # the first call: no rate-limit headers, no hold
            return reply(404, b'{"message": "no such pipeline", "status": 404}')
        await never.wait()
        return b""

    async with raw_client(hold, connection_limit=100, max_retries=3, timeout=None) as (
        server,
        client,
        _clock,
    ):
        await raises(client.pipelines.get(ids()), SevallaError)
        tasks = [asyncio.create_task(client.pipelines.get(ids())) for _ in range(300)]
        await asyncio.wait_for(until(lambda: len(server.requests) >= 101), 20)
        await client.aclose()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, APIConnectionError) for r in results), {type(r) for r in results}
    queued = [r for r in results if isinstance(r, ClientClosedError)]
    assert len(queued) >= 200
    assert all(not r.request_sent for r in queued)
    for error in results[:3] + queued[:3]:
        assert_secret_unreachable(error, KEY)


# --- 7. paging stops at the API's maximum offset -------------------------------------------


async def test_paging_stops_at_the_maximum_offset_before_sending() -> None:
    item = deployment_json()
    offsets: list[int] = []

    def respond(request: RawRequest) -> bytes:
        query = dict(p.split("=") for p in request.target.split("?", 1)[1].split("&"))
        offset, limit = int(query["offset"]), int(query["limit"])
        offsets.append(offset)
        page = [{**item, "id": ids()} for _ in range(limit)]
        reply_page = {"data": page, "total": 20000, "offset": offset, "limit": limit}
        return reply(200, json.dumps(reply_page).encode())

    async with raw_client(respond) as (_, client, _clock):
        count = 0
        async for _ in client.deployments.list(ids()):
            count += 1
    assert max(offsets) <= 10_000
    assert count == 10_100


# --- 9. one client, two event loops ---------------------------------------------------------


def test_a_client_used_from_a_second_loop_says_why() -> None:
    holder: dict[str, SevallaClient] = {}

    async def first() -> None:
        async with RawServer(lambda r: reply(200, promote_body(r))) as server:
            holder["client"] = client = SevallaClient(
                KEY, base_url=server.base_url, max_retries=0, trust_env=False
            )
            await client.pipelines.promote(ids(), **promote_args())

    async def second() -> RuntimeError:
        client = holder["client"]
        try:
            with pytest.raises(RuntimeError) as info:
                await client.pipelines.promote(ids(), **promote_args())
        finally:
            await client.aclose()
        return info.value

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(first(), debug=True)
        error = asyncio.run(second(), debug=True)
        del holder["client"]
        gc.collect()
    assert "another event loop, which is closed" in str(error)
    assert "create the client inside the loop" in str(error)
    assert_secret_unreachable(error, KEY)
    assert [str(w.message) for w in caught] == []


# --- 10. the smaller ones -------------------------------------------------------------------

_QUIET_SCRIPT = """
import asyncio, sys
from sevalla_async import SevallaClient
from sevalla_async.testing import FakeClock
calls = 0
async def handle(reader, writer):
    global calls
    await reader.readuntil(b"\\r\\n\\r\\n")
    calls += 1
    status = b"503 X" if calls == 1 else b"500 X"
    head = b"\\r\\nConnection: close\\r\\nContent-Length: 2\\r\\n\\r\\n"
    writer.write(b"HTTP/1.1 " + status + head + b"{}")
    await writer.drain()
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = FakeClock()
    async with SevallaClient("k", base_url=f"http://127.0.0.1:{port}/v3", max_retries=1,
                             sleep=clock.sleep, clock=clock, trust_env=False) as client:
        try:
            await client.pipelines.get("fb5e5168-4281-4bec-94c5-0d1584e9e657")
        except Exception as exc:
            print(type(exc).__name__)
    server.close()
    await server.wait_closed()
asyncio.run(main())
"""


def test_retry_warnings_are_silent_until_logging_is_configured() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SEVALLA_LOG"}
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _QUIET_SCRIPT], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.strip() == "InternalServerError"
    assert done.stderr == ""


async def test_a_server_message_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    forged = "boom\nCRITICAL sevalla_async: forged line\r\x1b[31m"
    body = json.dumps({"message": forged, "status": 503}).encode()
    caplog.set_level(logging.DEBUG, logger="sevalla_async")
    async with raw_client(lambda _: reply(503, body), max_retries=1) as (_, client, _clock):
        await raises(client.pipelines.get(ids()), InternalServerError)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("sevalla_async")]
    assert any("forged line" in m for m in messages)
    assert not any(c in m for m in messages for c in "\n\r\x1b")


@pytest.mark.parametrize("value", ["1_000", "\uff13\uff10"])
async def test_retry_after_takes_ascii_digits_only(value: str) -> None:
    def respond(request: RawRequest) -> bytes:
        if len(server_requests) == 1:
            return reply(429, b'{"message": "slow down", "status": 429}', {"Retry-After": value})
        return reply(200, promote_body(request))

    async with raw_client(respond, max_retries=2) as (server, client, clock):
        server_requests = server.requests
        await client.pipelines.promote(ids(), **promote_args())
    assert len(server.requests) == 2
    assert clock.sleeps
    assert max(clock.sleeps) < 30


async def test_a_200_with_a_corrupt_gzip_body_is_a_validation_error() -> None:
    packed = zlib.compress(b'{"fine": true}')
    headers = {"Content-Encoding": "gzip"}
    async with raw_client(lambda _: reply(200, b"\x1f\x8b\x08\x00" + packed, headers)) as (
        _,
        client,
        _clock,
    ):
        error = await raises(client.pipelines.get(ids()), APIResponseValidationError)
    assert not isinstance(error, APIConnectionError)
    assert error.status_code == 200
    assert "cannot be decoded" in str(error)


async def test_breaking_out_of_promote_iter_starts_nothing_more() -> None:
    async with raw_client(lambda r: reply(200, promote_body(r))) as (server, client, _clock):
        requests = [PromoteRequest(ids(), ids(), [ids()]) for _ in range(100)]
        outcomes = client.pipelines.promote_iter(requests, concurrency=4)
        async for outcome in outcomes:
            assert outcome.ok
            break
        for _ in range(200):  # let whatever the iterator started run to the end
            await asyncio.sleep(0.001)
        sent = len(server.requests)
        await outcomes.aclose()
    # The four first requests, and at most the one started when the first outcome came in
    # while the consumer was waiting for it; nothing once the consumer has stopped.
    assert sent <= 4 + 1


# --- the CLI's error paths ----------------------------------------------------------------


@contextlib.contextmanager
def threaded_server(respond: Respond) -> Iterator[str]:
    """A :class:`RawServer` on its own loop in a thread (the CLI runs its own loop)."""
    ready = threading.Event()
    stop: dict[str, Any] = {}

    async def serve() -> None:
        async with RawServer(respond) as server:
            stop["url"] = server.base_url
            stop["event"] = asyncio.Event()
            stop["loop"] = asyncio.get_running_loop()
            ready.set()
            await stop["event"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),))
    thread.start()
    ready.wait(10)
    try:
        yield stop["url"]
    finally:
        stop["loop"].call_soon_threadsafe(stop["event"].set)
        thread.join(10)


@pytest.mark.parametrize(
    "argv", [[KEY], ["pipelines", KEY], ["--timeout", KEY, "pipelines", "list"]]
)
def test_cli_usage_error_with_the_key_in_the_wrong_place(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 8's printed messages are in tests/test_cli_polish.py; here the raised
    ``SystemExit`` itself: argparse's error (quoting the key) is not its context."""
    monkeypatch.setenv("SEVALLA_API_KEY", KEY)
    printed = io.StringIO()
    with pytest.raises(SystemExit) as info:
        cli_main(argv, stdout=printed, stderr=printed)
    assert (info.value.code, info.value.__context__) == (2, None)
    assert printed.getvalue()
    assert KEY not in printed.getvalue()
    assert_secret_unreachable(info.value, KEY)


def test_cli_connection_error_from_a_broken_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    with threaded_server(lambda _: BROKEN_REPLIES["header line without a colon"]) as url:
        monkeypatch.setenv("SEVALLA_API_KEY", KEY)
        monkeypatch.setenv("SEVALLA_BASE_URL", url)
        out, err = io.StringIO(), io.StringIO()
        status = cli_main(["-v", "pipelines", "list"], stdout=out, stderr=err)
    assert status != 0
    assert err.getvalue()
    assert KEY not in out.getvalue() + err.getvalue()

"""SevallaClient configuration, session lifecycle and the security rules."""

from __future__ import annotations

import logging
import ssl
import traceback
from collections.abc import Callable

import aiohttp
import pytest
import trustme

from sevalla_async import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    SevallaClient,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

SECRET = "sk-live-THIS-MUST-NEVER-LEAK-0123456789"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SEVALLA_API_KEY",
        "SEVALLA_BASE_URL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


# --- configuration -----------------------------------------------------------------------


def test_missing_key_names_both_sources() -> None:
    with pytest.raises(ValueError, match=r"api_key.*SEVALLA_API_KEY"):
        SevallaClient()


async def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEVALLA_API_KEY", SECRET)
    fake = FakeSevalla(api_key=SECRET)
    async with SevallaClient(transport=fake.transport()) as client:
        assert SECRET not in repr(client)
        assert [p async for p in client.pipelines.list()] == []
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {SECRET}"


@pytest.mark.sevalla_loopback
def test_default_and_environment_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SevallaClient("k").base_url == "https://api.sevalla.com/v3"
    monkeypatch.setenv("SEVALLA_BASE_URL", "https://eu.example.test/v3/")
    assert SevallaClient("k").base_url == "https://eu.example.test/v3"
    assert SevallaClient("k", base_url="https://x.test/v3").base_url == "https://x.test/v3"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/v3", "http://localhost/v3", "http://[::1]:9/v3"]
)
@pytest.mark.sevalla_loopback
def test_plain_http_allowed_to_loopback(url: str) -> None:
    assert SevallaClient("k", base_url=url).base_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.sevalla.com/v3", "plain http:// is refused"),
        ("http://10.0.0.8/v3", "plain http:// is refused"),
        ("ftp://api.sevalla.com/v3", "expected an https:// URL"),
        ("api.sevalla.com/v3", "expected an https:// URL"),
        ("https://user:pw@api.sevalla.com/v3", "must not contain credentials"),
    ],
)
@pytest.mark.sevalla_loopback
def test_unsafe_base_urls_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"base_url: {message}"):
        SevallaClient("k", base_url=url)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", "30"),
        ("connection_limit", 0),
        ("max_response_size", 0),
        ("max_retries", -1),
        ("session", "not a session"),
    ],
)
def test_bad_options_name_the_field(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        SevallaClient("k", **{option: value})  # type: ignore[arg-type]


@pytest.mark.sevalla_loopback
def test_construction_does_no_io_and_needs_no_loop() -> None:
    client = SevallaClient("k")  # a plain function: no running loop
    assert client._transport._session is None


# --- sessions ----------------------------------------------------------------------------


@pytest.mark.sevalla_loopback
async def test_owned_session_is_created_lazily_and_closed(fake: FakeSevalla) -> None:
    pipeline = fake.add_pipeline()
    client = SevallaClient(fake.api_key, base_url=fake.base_url)
    assert client._transport._session is None
    async with client:
        await client.pipelines.get(pipeline.id)
        session = client._transport.session
        assert not session.closed
    assert session.closed
    with pytest.raises(APIConnectionError, match="closed") as info:
        await client.pipelines.get(pipeline.id)
    assert info.value.request_sent is False
    assert info.value.attempts == 1  # closed on purpose: not retried


@pytest.mark.sevalla_loopback
async def test_aclose_without_async_with(fake: FakeSevalla) -> None:
    client = SevallaClient(fake.api_key, base_url=fake.base_url)
    await client.pipelines.get(fake.add_pipeline().id)
    session = client._transport.session
    await client.aclose()
    assert session.closed
    await client.aclose()  # idempotent


@pytest.mark.sevalla_loopback
async def test_borrowed_session_is_used_and_never_closed(fake: FakeSevalla) -> None:
    pipeline = fake.add_pipeline()
    async with aiohttp.ClientSession(headers={"X-App": "backend"}) as session:
        async with SevallaClient(fake.api_key, base_url=fake.base_url, session=session) as c:
            assert c._transport.session is session
            await c.pipelines.get(pipeline.id)
            assert "borrowed" in repr(c)
        assert not session.closed
        (sent,) = fake.requests
        assert sent.headers["X-App"] == "backend"
        assert sent.headers["Authorization"] == f"Bearer {fake.api_key}"


# --- security ----------------------------------------------------------------------------


@pytest.mark.sevalla_loopback
async def test_redirect_is_not_followed(fake: FakeSevalla, client: SevallaClient) -> None:
    async with FakeSevalla() as elsewhere:
        fake.inject(Fault(status=302, headers={"Location": f"{elsewhere.base_url}/pipelines"}))
        with pytest.raises(APIStatusError) as info:
            await client.pipelines.get(fake.add_pipeline().id)
        assert info.value.status_code == 302
        assert elsewhere.requests == []  # the token never went there


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_reply_refused(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], chunked: bool
) -> None:
    client = make_client(max_response_size=512)
    fake.inject(Fault(status=200, body={"padding": "x" * 200_000}, chunked=chunked))
    with pytest.raises(APIResponseValidationError, match="max_response_size"):
        await client.pipelines.get(fake.add_pipeline().id)


async def test_chunked_reply_under_the_cap_is_read(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    pipeline = fake.add_pipeline()
    fake.inject(Fault(chunked=True))
    assert (await client.pipelines.get(pipeline.id)).id == pipeline.id


@pytest.mark.sevalla_loopback
async def test_key_absent_from_errors_tracebacks_and_logs(
    fake: FakeSevalla, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sevalla_async")
    texts: list[str] = []
    async with SevallaClient(SECRET, base_url=fake.base_url, sleep=clock.sleep, clock=clock) as c:
        texts.append(repr(c))
        with pytest.raises(AuthenticationError) as auth:
            await c.pipelines.get(fake.add_pipeline().id)
        texts.append("".join(traceback.format_exception(auth.value)))
    async with SevallaClient(
        SECRET, base_url="http://127.0.0.1:1/v3", sleep=clock.sleep, clock=clock
    ) as c:
        with pytest.raises(APIConnectionError) as lost:
            await c.pipelines.get(fake.add_pipeline().id)
        texts.append("".join(traceback.format_exception(lost.value)))
        texts.append(repr(lost.value.__cause__))
    texts.extend(r.getMessage() for r in caplog.records)
    assert caplog.records  # the attempts were logged...
    for text in texts:
        assert SECRET not in text  # ...but never the key
        assert "Bearer" not in text


async def test_one_debug_line_per_attempt_and_a_warning_per_retry(
    fake: FakeSevalla, client: SevallaClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sevalla_async")
    pipeline = fake.add_pipeline()
    fake.inject(Fault.error(503))
    await client.pipelines.get(pipeline.id)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(debug) == 2
    assert f"GET /pipelines/{pipeline.id} -> 503" in debug[0]
    assert f"request_id={fake.requests[0].request_id}" in debug[0]
    assert "attempt=1" in debug[0]
    assert "wait=" in debug[0]
    assert "-> 200" in debug[1]
    assert "attempt=2" in debug[1]
    assert len(warnings) == 1
    assert "retry 1 of 3" in warnings[0]


async def test_no_debug_formatting_when_debug_is_off(
    fake: FakeSevalla, client: SevallaClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sevalla_async")
    await client.pipelines.get(fake.add_pipeline().id)
    assert [r for r in caplog.records if r.name == "sevalla_async"] == []


# --- TLS and proxies ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.sevalla_loopback
async def test_tls_is_verified_by_default(ca: trustme.CA) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    async with FakeSevalla(ssl_context=server_ctx) as fake:
        pipeline = fake.add_pipeline()
        assert fake.base_url.startswith("https://")
        async with SevallaClient(fake.api_key, base_url=fake.base_url, max_retries=0) as c:
            with pytest.raises(APIConnectionError) as info:
                await c.pipelines.get(pipeline.id)
        assert info.value.request_sent is False
        assert isinstance(info.value.__cause__, aiohttp.ClientConnectorCertificateError)
        assert fake.requests == []

        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        async with SevallaClient(fake.api_key, base_url=fake.base_url, ssl=client_ctx) as c:
            assert (await c.pipelines.get(pipeline.id)).id == pipeline.id


@pytest.mark.sevalla_loopback
async def test_environment_proxy_is_honoured(
    fake: FakeSevalla, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeSevalla(api_key=fake.api_key) as proxy:
        proxy.inject(Fault.error(503, "from the proxy"))
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/v3"))
        async with SevallaClient(fake.api_key, base_url=fake.base_url, max_retries=0) as c:
            await c.pipelines.get(fake.add_pipeline().id)
        # A loopback base URL is never proxied: the bearer token must not leave the host.
        assert proxy.requests == []
        assert len(fake.requests) == 1

"""The owned session reads proxy settings from the environment once, not per request,
and never takes credentials for the API host from ~/.netrc."""

from __future__ import annotations

from pathlib import Path

import pytest

from sevalla_async import SevallaClient
from sevalla_async.testing import FakeClock, FakeSevalla

pytestmark = pytest.mark.sevalla_loopback  # real sockets: the CLI, TLS, proxies, wire format


async def test_a_netrc_entry_for_the_api_host_does_not_break_calls(
    fake: FakeSevalla, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    request = fake.promote_requests(1)[0]
    async with SevallaClient(
        fake.api_key, base_url=fake.base_url, trust_env=True, sleep=clock.sleep, clock=clock
    ) as client:
        promotions = await client.pipelines.promote_request(request)
    assert len(promotions) == 2
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.api_key}"


async def test_the_environment_proxy_is_honoured(
    fake: FakeSevalla, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = fake.promote_requests(1)[0]
    # A proxy on a port nobody listens on: a loopback base URL never uses it.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with SevallaClient(
        fake.api_key, base_url=fake.base_url, max_retries=0, sleep=clock.sleep, clock=clock
    ) as client:
        await client.pipelines.promote_request(request)
    assert len(fake.requests) == 1

    # NO_PROXY lets it through; trust_env=False ignores the variables altogether.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with SevallaClient(
        fake.api_key, base_url=fake.base_url, sleep=clock.sleep, clock=clock
    ) as client:
        await client.pipelines.promote_request(request)
    monkeypatch.delenv("NO_PROXY")
    async with SevallaClient(
        fake.api_key, base_url=fake.base_url, trust_env=False, sleep=clock.sleep, clock=clock
    ) as client:
        await client.pipelines.promote_request(request)
    assert len(fake.requests) == 3


async def test_the_environment_is_read_once_per_client(
    fake: FakeSevalla, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = fake.promote_requests(3, targets=1)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    async with SevallaClient(
        fake.api_key, base_url=fake.base_url, sleep=clock.sleep, clock=clock
    ) as client:
        await client.pipelines.promote_request(requests[0])
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # too late for this client
        await client.pipelines.promote_request(requests[1])
        await client.pipelines.promote_request(requests[2])
    assert len(fake.requests) == 3

"""An error from the in-memory fake names the fake, never the production API: a test that
fails on the fake must not read like a call that went to api.sevalla.com."""

from __future__ import annotations

import uuid

import pytest

from sevalla_async import APIConnectionError, NotFoundError, SevallaClient
from sevalla_async.testing import FakeSevalla, Fault

FAKE = "fake://sevalla/v3"


def _names_the_fake(error: Exception, url: str | None) -> None:
    assert url is not None
    assert url.startswith(FAKE + "/"), url
    assert FAKE in str(error)
    assert "api.sevalla.com" not in str(error)
    assert "api.sevalla.com" not in repr(error)


async def test_a_client_on_the_fakes_transport_names_the_fake_in_its_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEVALLA_BASE_URL", raising=False)
    fake = FakeSevalla()
    async with SevallaClient(fake.api_key, transport=fake.transport()) as client:
        assert client.base_url == FAKE
        assert FAKE in repr(client)
        with pytest.raises(NotFoundError) as caught:
            await client.pipelines.get(str(uuid.uuid4()))
    _names_the_fake(caught.value, caught.value.url)


async def test_the_fixtures_client_names_the_fake(
    sevalla_fake: FakeSevalla, sevalla_client: SevallaClient
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await sevalla_client.pipelines.get(str(uuid.uuid4()))
    _names_the_fake(caught.value, caught.value.url)


async def test_the_fake_wins_over_the_environment_but_not_over_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SEVALLA_BASE_URL left pointing at the API while tests run on the fake: the calls go
    to the fake, and so do their URLs. An explicit ``base_url`` is the caller's choice."""
    monkeypatch.setenv("SEVALLA_BASE_URL", "https://api.sevalla.com/v3")
    fake = FakeSevalla()
    async with SevallaClient(fake.api_key, transport=fake.transport()) as client:
        assert client.base_url == FAKE
    chosen = "https://example.test/v3"
    async with SevallaClient(fake.api_key, base_url=chosen, transport=fake.transport()) as client:
        assert client.base_url == chosen
        fake.add_pipeline()
        assert len([p async for p in client.pipelines.list()]) == 1  # the fake answers


async def test_a_dropped_connection_names_the_in_memory_fake() -> None:
    fake = FakeSevalla()
    fake.inject(Fault.disconnect("before"), times=10)
    async with SevallaClient(fake.api_key, transport=fake.transport(), max_retries=0) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.pipelines.get(str(uuid.uuid4()))
    assert "in-memory FakeSevalla" in str(caught.value)
    _names_the_fake(caught.value, caught.value.url)

"""pytest fixtures for testing code that uses sevalla-async (installed with the package and
loaded automatically through the ``pytest11`` entry point).

Fixtures:

- ``sevalla_fake``: a :class:`~sevalla_async.testing.FakeSevalla`, served in memory
  (:meth:`~sevalla_async.testing.FakeSevalla.transport`: no socket, any event loop or
  thread); with ``@pytest.mark.sevalla_loopback`` it also listens on 127.0.0.1 and the
  clients talk to it over real sockets. Closed after the test.
- ``sevalla_client``: a :class:`~sevalla_async.SevallaClient` bound to it. Its waits
  (retry back-off, ``Retry-After``, rate-limit holds) go to ``sevalla_clock``, so they take
  no real time.
- ``sevalla_clock``: the :class:`~sevalla_async.testing.FakeClock` they share (the fake's
  rate-limit windows move with it too); ``sevalla_clock.sleeps`` lists every wait asked for.
- ``sevalla_client_factory``: ``make(**options)`` builds more clients bound to the fake
  (another key, ``max_retries=0``...), closed after the test. ``make(loopback=True)``
  gives a client over 127.0.0.1 (the test needs ``@pytest.mark.sevalla_loopback``).

Markers set the options of the fixtures for one test (or a module, through
``pytestmark``):

- ``@pytest.mark.sevalla_fake(**options)``: keyword arguments of :class:`FakeSevalla`
  (``api_key``, ``read_limit``/``write_limit`` as :class:`RateLimit`).
- ``@pytest.mark.sevalla_client(**options)``: keyword arguments of :class:`SevallaClient`
  (``max_retries``, ``timeout``, ``max_rate_limit_wait``...).
- ``@pytest.mark.sevalla_loopback``: serve the fake on 127.0.0.1 and bind the clients to
  it over loopback (to test TLS, proxies or the wire format; slower than in memory).

Script faults and inspect what your code sent::

    from sevalla_async.testing import Fault

    async def test_my_deploy_script_retries_a_429(sevalla_fake, sevalla_client, sevalla_clock):
        request = sevalla_fake.promote_requests(1)[0]
        sevalla_fake.inject(Fault.rate_limited(retry_after=5), method="POST")

        await my_deploy_script(sevalla_client, request)      # your code under test

        sent = sevalla_fake.requests_to("POST", "/promote")
        assert [r.status for r in sent] == [429, 200]
        assert sent[-1].json()["target_app_ids"] == [str(t) for t in request.target_app_ids]
        assert sevalla_clock.sleeps == [5]                   # waited, but not for real

The fixtures are async: the test suite needs an asyncio pytest plugin (pytest-asyncio; in
its ``strict`` mode mark the tests with ``@pytest.mark.asyncio``). Nothing of the SDK is
imported until a test asks for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .. import SevallaClient, Transport, TransportRequest, TransportResponse
    from . import FakeClock, FakeSevalla

__all__ = [
    "pytest_configure",
    "sevalla_client",
    "sevalla_client_factory",
    "sevalla_clock",
    "sevalla_fake",
]


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers (so ``--strict-markers`` accepts them)."""
    for marker in (
        "sevalla_fake(**options): keyword arguments for the FakeSevalla of the "
        "sevalla_fake fixture (api_key, read_limit, write_limit)",
        "sevalla_client(**options): keyword arguments for the SevallaClient of the "
        "sevalla_client fixture (max_retries, timeout, ...)",
        "sevalla_loopback: serve the sevalla_fake fixture on 127.0.0.1 and bind the "
        "sevalla_client fixtures to it over real sockets",
    ):
        config.addinivalue_line("markers", marker)


def _async_fixture(func: Any) -> Any:
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - anyio or another plugin drives it
        return pytest.fixture(func)
    return pytest_asyncio.fixture(func)


def _marker_options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    """The keyword arguments of the closest ``name`` marker (positional ones are refused)."""
    marker = request.node.get_closest_marker(name)
    if marker is None:
        return {}
    if marker.args:
        raise TypeError(f"@pytest.mark.{name} takes keyword arguments only")
    return dict(marker.kwargs)


@pytest.fixture
def sevalla_clock() -> FakeClock:
    """The fake clock shared by ``sevalla_fake`` and ``sevalla_client``: waits on it
    return at once and move it forward; ``.sleeps`` lists them."""
    from . import FakeClock

    return FakeClock()


@_async_fixture
async def sevalla_fake(
    request: pytest.FixtureRequest, sevalla_clock: FakeClock
) -> AsyncIterator[FakeSevalla]:
    """A FakeSevalla (options from ``@pytest.mark.sevalla_fake``), served in memory, and
    also on 127.0.0.1 with ``@pytest.mark.sevalla_loopback``; stopped after the test.

    Add data with ``add_pipeline()`` / ``promote_requests(n)``, script faults with
    ``inject(Fault...)``, read what was received in ``requests`` / ``requests_to()``.
    """
    from . import FakeSevalla

    options = _marker_options(request, "sevalla_fake")
    options.setdefault("clock", sevalla_clock)
    fake = FakeSevalla(**options)
    if request.node.get_closest_marker("sevalla_loopback") is None:
        yield fake
        return
    async with fake:
        yield fake


@_async_fixture
async def sevalla_client_factory(
    request: pytest.FixtureRequest, sevalla_fake: FakeSevalla, sevalla_clock: FakeClock
) -> AsyncIterator[Callable[..., SevallaClient]]:
    """``make(**options)`` -> a new SevallaClient bound to ``sevalla_fake`` (its key, its
    in-memory transport and ``sevalla_clock`` unless ``options`` say otherwise); all closed
    after the test. ``make(loopback=True)`` (the default under
    ``@pytest.mark.sevalla_loopback``), or a ``base_url`` of another server, binds it
    over the wire instead."""
    from .. import AiohttpTransport, SevallaClient

    made: list[SevallaClient] = []
    on_the_wire: list[_Counting] = []
    default_loopback = request.node.get_closest_marker("sevalla_loopback") is not None

    def make(*, loopback: bool = default_loopback, **options: Any) -> SevallaClient:
        api_key = options.pop("api_key", sevalla_fake.api_key)
        if loopback or "base_url" in options:  # another server: over the wire
            # Virtual time passes only while no request of these clients is on the wire.
            sevalla_clock.busy = lambda: any(t.in_flight for t in on_the_wire)
            if "base_url" not in options:
                options["base_url"] = sevalla_fake.base_url
            if "transport" not in options:
                aiohttp_options = {
                    name: options.pop(name)
                    for name in ("session", "connection_limit", "ssl", "proxy", "trust_env")
                    if name in options
                }
                counting = _Counting(AiohttpTransport(**aiohttp_options))
                on_the_wire.append(counting)
                options["transport"] = counting
        elif "transport" not in options:
            options["transport"] = sevalla_fake.transport()
        options.setdefault("sleep", sevalla_clock.sleep)
        options.setdefault("clock", sevalla_clock)
        options.setdefault("wall_clock", sevalla_clock.wall)
        client = SevallaClient(api_key, **options)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await client.aclose()


@_async_fixture
async def sevalla_client(
    request: pytest.FixtureRequest, sevalla_client_factory: Callable[..., SevallaClient]
) -> AsyncIterator[SevallaClient]:
    """A SevallaClient bound to ``sevalla_fake`` (options from
    ``@pytest.mark.sevalla_client``); its waits take no real time. Closed after the test."""
    async with sevalla_client_factory(**_marker_options(request, "sevalla_client")) as client:
        yield client


class _Counting:
    """A transport wrapper counting the attempts under way (for ``FakeClock.busy``)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.in_flight = 0

    @property
    def pool_limit(self) -> int | None:
        return getattr(self.inner, "pool_limit", None)

    async def send(self, request: TransportRequest) -> TransportResponse:
        self.in_flight += 1
        try:
            return await self.inner.send(request)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:  # the wrapped transport's other attributes
        return getattr(self.inner, name)

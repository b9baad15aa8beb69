"""Scripted faults behave the way a test author expects."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from sevalla_async import SevallaClient
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


@pytest.mark.parametrize(
    ("fault", "headers"),
    [
        (Fault.rate_limited(5), {"Retry-After": "5", "x-ratelimit-reset": "5"}),
        (Fault.rate_limited(0.5), {"Retry-After": "0.5", "x-ratelimit-reset": "0.5"}),
        (Fault.rate_limited(5, reset=9), {"Retry-After": "5", "x-ratelimit-reset": "9"}),
        (Fault.rate_limited(None, reset=9), {"x-ratelimit-reset": "9"}),
        (
            Fault.rate_limited("Wed, 21 Oct 2026 07:28:00 GMT"),
            {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"},
        ),
    ],
    ids=["seconds", "fraction", "explicit-reset", "reset-only", "http-date"],
)
def test_rate_limited_headers_are_consistent(fault: Fault, headers: dict[str, str]) -> None:
    assert fault.status == 429
    # A spent budget is announced only with the reset that goes with it; an HTTP-date
    # Retry-After alone leaves the fake's own budget headers in place.
    spent = {"x-ratelimit-remaining": "0"} if "x-ratelimit-reset" in headers else {}
    assert dict(fault.headers) == {**spent, **headers}


async def test_a_scripted_429_costs_exactly_its_retry_after(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=3), method="POST")

    await client.pipelines.promote_request(request)

    assert clock.sleeps == [3]
    assert [r.status for r in fake.requests] == [429, 200]


@pytest.mark.sevalla_loopback
async def test_close_does_not_wait_for_a_scripted_delay(fake: FakeSevalla) -> None:
    fake.inject(Fault.slow(3600))

    async def call(http: aiohttp.ClientSession) -> int:
        headers = {"Authorization": f"Bearer {fake.api_key}"}
        async with http.get(f"{fake.base_url}/pipelines", headers=headers) as reply:
            return reply.status

    async with aiohttp.ClientSession() as http:
        pending = asyncio.ensure_future(call(http))
        while fake.in_flight == 0:  # noqa: ASYNC110 - the fake has no event to wait on
            await asyncio.sleep(0)
        # Without the fix this waits for the hour; the guard turns a hang into a failure.
        await asyncio.wait_for(fake.close(), 30)
        (outcome,) = await asyncio.gather(pending, return_exceptions=True)
    # The delayed request ends at once: answered early, or cut off with the server.
    assert outcome == 200 or isinstance(outcome, aiohttp.ClientError)

"""Test support: a faithful fake of the Sevalla API, faults to script, a fake clock.

::

    from sevalla_async import SevallaClient
    from sevalla_async.testing import FakeSevalla, Fault

    async def test_retries_a_429():
        async with FakeSevalla() as fake:
            request = fake.promote_requests(1)[0]
            fake.inject(Fault.rate_limited(retry_after=1))
            async with SevallaClient(fake.api_key, base_url=fake.base_url) as client:
                await client.pipelines.promote_request(request)
            assert len(fake.requests_to("POST", "/promote")) == 2

With pytest, the ``sevalla_fake`` and ``sevalla_client`` fixtures (installed with the
package) do the set-up for you.
"""

from ._clock import FakeClock
from ._faults import Fault
from ._ratewindow import RateLimit
from ._server import FakeSevalla, RecordedRequest
from ._state import FakeDeployment, FakePipeline, FakeStage

__all__ = [
    "FakeClock",
    "FakeDeployment",
    "FakePipeline",
    "FakeSevalla",
    "FakeStage",
    "Fault",
    "RateLimit",
    "RecordedRequest",
]

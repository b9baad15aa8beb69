"""Property: whatever the server sends, the client returns models or raises an APIError."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sevalla_async import APIError, Promotion, SevallaClient
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

UUIDS = [str(uuid.UUID(int=i << 64 | 0x4000 << 48 | 0x8 << 60)) for i in range(1, 4)]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
promotion_like = st.lists(
    st.dictionaries(
        st.sampled_from(["target_app_id", "deployment_id", "extra"]),
        st.sampled_from([*UUIDS, "nope", 7, None]) | json_values,
    ),
    max_size=3,
)
bodies = st.one_of(
    st.binary(max_size=40),
    json_values.map(lambda v: json.dumps(v).encode()),
    promotion_like.map(lambda v: json.dumps(v).encode()),
)
# Statuses an HTTP server can answer with a body (no 1xx, 204 or 304).
statuses = st.integers(min_value=200, max_value=599).filter(lambda s: s not in (204, 304))
headers = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": st.sampled_from(["0", "1", "soon", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"]),
        "x-ratelimit-remaining": st.sampled_from(["0", "3", "x"]),
        "x-ratelimit-reset": st.sampled_from(["0", "2", "1e9", "nan"]),
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@pytest.mark.sevalla_loopback
@given(status=statuses, body=bodies, extra=headers)
async def test_any_reply_yields_models_or_api_error(
    fake: FakeSevalla, clock: FakeClock, status: int, body: bytes, extra: dict[str, str]
) -> None:
    request = fake.promote_requests(1, targets=1)[0]
    fake.clear_faults()
    fake.inject(Fault(status=status, body=body, headers=extra), times=10)
    async with SevallaClient(
        fake.api_key, base_url=fake.base_url, sleep=clock.sleep, clock=clock
    ) as client:
        try:
            result = await client.pipelines.promote_request(request)
        except APIError:
            return
    assert 200 <= status < 300
    assert all(isinstance(p, Promotion) for p in result)

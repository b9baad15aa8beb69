"""with_raw_response: the reply (status, headers, request id, body) of a successful call,
with parse() giving what the plain method returns."""

from __future__ import annotations

import json

import pytest

from sevalla_async import APIResponse, Deployment, NotFoundError, Pipeline, Promotion, SevallaClient
from sevalla_async.testing import FakeSevalla, Fault


async def test_promote_gives_the_reply_and_the_promotions(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    raw = await client.pipelines.with_raw_response.promote(
        request.pipeline_id,
        source_app_id=request.source_app_id,
        target_app_ids=request.target_app_ids,
    )
    assert isinstance(raw, APIResponse)
    (sent,) = fake.requests
    assert raw.status_code == 200
    assert raw.request_id == sent.request_id
    assert raw.headers["x-request-id"] == sent.request_id
    assert "x-ratelimit-remaining" in raw.headers
    assert isinstance(raw.http_response_body, bytes)
    promotions = raw.parse()
    assert [p.target_app_id for p in promotions] == list(request.target_app_ids)
    assert all(isinstance(p, Promotion) for p in promotions)
    body = json.loads(raw.http_response_body)
    assert [str(p.deployment_id) for p in promotions] == [item["deployment_id"] for item in body]
    assert sent.request_id in repr(raw)


async def test_promote_request_after_a_retry_shows_the_successful_reply(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=1))
    raw = await client.pipelines.with_raw_response.promote_request(request)
    first, second = fake.requests
    assert first.status == 429
    assert raw.status_code == 200
    assert raw.request_id == second.request_id


async def test_pipeline_get(fake: FakeSevalla, client: SevallaClient) -> None:
    pipeline = fake.add_pipeline(name="web")
    raw = await client.pipelines.with_raw_response.get(pipeline.id)
    parsed = raw.parse()
    assert isinstance(parsed, Pipeline)
    assert parsed == await client.pipelines.get(pipeline.id)
    assert b"web" in raw.http_response_body
    assert json.loads(raw.http_response_body)
    assert raw.request_id == fake.requests[0].request_id


async def test_deployment_get_and_cancel(fake: FakeSevalla, client: SevallaClient) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=["waiting"])
    got = await client.deployments.with_raw_response.get(app, made.id)
    assert isinstance(got.parse(), Deployment)
    assert got.parse().id == made.id
    cancelled = await client.deployments.with_raw_response.cancel(app, made.id)
    assert cancelled.parse() == "Deployment is being cancelled"
    assert cancelled.status_code == 200
    assert cancelled.request_id == fake.requests[-1].request_id
    assert fake.requests[-1].path.endswith("/cancel")


async def test_errors_and_bad_input_are_those_of_the_plain_methods(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    with pytest.raises(ValueError, match="pipeline_id"):
        await client.pipelines.with_raw_response.promote(
            "nope", source_app_id=fake.add_app(), target_app_ids=[fake.add_app()]
        )
    with pytest.raises(ValueError, match="request"):
        await client.pipelines.with_raw_response.promote_request({"pipeline_id": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="app_id"):
        await client.deployments.with_raw_response.get("nope", fake.add_app())
    assert fake.requests == []
    with pytest.raises(NotFoundError):
        await client.pipelines.with_raw_response.get(fake.add_app())


async def test_derived_clients_have_it_too(fake: FakeSevalla, client: SevallaClient) -> None:
    pipeline = fake.add_pipeline()
    raw = await client.with_options(timeout=5).pipelines.with_raw_response.get(pipeline.id)
    assert raw.parse().id == pipeline.id

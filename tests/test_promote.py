"""promote end to end through FakeSevalla: wire format, models, errors."""

from __future__ import annotations

import json
import uuid

import pytest

from sevalla_async import (
    APIResponseValidationError,
    AuthenticationError,
    NotFoundError,
    Promotion,
    SevallaClient,
    __version__,
)
from sevalla_async.testing import FakeSevalla, Fault


async def test_promote_returns_typed_promotions(fake: FakeSevalla, client: SevallaClient) -> None:
    pipeline = fake.add_pipeline(apps_per_stage=2)
    source = pipeline.stages[0].app_ids[0]
    targets = pipeline.stages[1].app_ids

    promotions = await client.pipelines.promote(
        str(pipeline.id), source_app_id=source, target_app_ids=[str(t) for t in targets]
    )

    assert [p.target_app_id for p in promotions] == targets
    assert all(isinstance(p, Promotion) for p in promotions)
    for p in promotions:
        assert isinstance(p.deployment_id, uuid.UUID)
        assert fake.deployment(p.deployment_id).app_id == p.target_app_id


async def test_promote_wire_format(fake: FakeSevalla, client: SevallaClient) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    await client.pipelines.promote_request(request)

    (sent,) = fake.requests
    assert sent.method == "POST"
    assert sent.path == f"/v3/pipelines/{request.pipeline_id}/promote"
    assert sent.headers["Authorization"] == f"Bearer {fake.api_key}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"].startswith(f"sevalla-async/{__version__} aiohttp/")
    assert " python/" in sent.headers["User-Agent"]
    assert json.loads(sent.body) == {
        "source_app_id": str(request.source_app_id),
        "target_app_ids": [str(t) for t in request.target_app_ids],
    }


async def test_unknown_pipeline_is_not_found_with_request_id(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1)[0]
    with pytest.raises(NotFoundError) as info:
        await client.pipelines.promote(
            uuid.uuid4(),
            source_app_id=request.source_app_id,
            target_app_ids=request.target_app_ids,
        )
    error = info.value
    assert error.status_code == 404
    assert error.message == "Pipeline not found"
    assert error.request_id == fake.requests[-1].request_id
    assert error.code is not None
    assert error.code.startswith("err-fake-")
    assert error.body["status"] == 404


async def test_wrong_key_is_authentication_error_without_the_key(
    fake: FakeSevalla, make_client
) -> None:
    request = fake.promote_requests(1)[0]
    client = make_client(api_key="sk-very-secret-value")
    with pytest.raises(AuthenticationError) as info:
        await client.pipelines.promote_request(request)
    text = str(info.value) + repr(info.value) + repr(client)
    assert "sk-very-secret-value" not in text
    assert info.value.status_code == 401


async def test_unknown_reply_fields_are_ignored(fake: FakeSevalla, client: SevallaClient) -> None:
    request = fake.promote_requests(1, targets=1)[0]
    target = str(request.target_app_ids[0])
    dep = str(uuid.uuid4())
    fake.inject(Fault(status=200, body=[{"target_app_id": target, "deployment_id": dep, "new": 1}]))
    (promotion,) = await client.pipelines.promote_request(request)
    assert promotion == Promotion(uuid.UUID(target), uuid.UUID(dep))


@pytest.mark.parametrize(
    "body",
    [
        [{"target_app_id": "not-a-uuid", "deployment_id": str(uuid.uuid4())}],
        [{"target_app_id": str(uuid.uuid4())}],
        [{"target_app_id": 5, "deployment_id": str(uuid.uuid4())}],
        {"target_app_id": str(uuid.uuid4()), "deployment_id": str(uuid.uuid4())},
        "<html>gateway</html>",
    ],
    ids=["bad-uuid", "missing-field", "mistyped", "object-not-list", "not-json"],
)
async def test_bad_reply_is_validation_error(
    fake: FakeSevalla, client: SevallaClient, body: object
) -> None:
    request = fake.promote_requests(1)[0]
    fake.inject(Fault(status=200, body=body))
    with pytest.raises(APIResponseValidationError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.status_code == 200
    assert info.value.request_id == fake.requests[-1].request_id
    assert info.value.body is not None
    assert len(fake.requests) == 1  # a 2xx is never retried: the promotion happened


@pytest.mark.sevalla_loopback
async def test_fake_rejects_bad_body_like_the_api(fake: FakeSevalla, client: SevallaClient) -> None:
    """The fake's own validation (what a client without our checks would hit)."""
    pipeline = fake.add_pipeline()
    session = client._transport.session
    async with session.post(
        f"{fake.base_url}/pipelines/{pipeline.id}/promote",
        json={"source_app_id": "nope", "target_app_ids": []},
        headers={"Authorization": f"Bearer {fake.api_key}"},
    ) as reply:
        body = await reply.json()
    assert reply.status == 400
    assert body["message"] == 'body/source_app_id must match format "uuid"'
    assert body["status"] == 400
    assert set(body["data"]) == {"code", "message"}

"""client.pipelines.get / list end to end through FakeSevalla."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest

from sevalla_async import (
    APIResponseValidationError,
    NotFoundError,
    Pipeline,
    PipelineStage,
    SevallaClient,
)
from sevalla_async.testing import FakeSevalla, Fault

SPEC = json.loads((Path(__file__).parent / "data" / "spec_replies.json").read_text())


async def test_get_returns_the_pipeline_with_stage_details(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    made = fake.add_pipeline(name="web", stages=("Dev", "Staging", "Production"))

    pipeline = await client.pipelines.get(str(made.id))

    assert isinstance(pipeline, Pipeline)
    assert pipeline.id == made.id
    assert pipeline.display_name == "web"
    assert pipeline.type == "trunk"
    assert pipeline.company_id == fake.state.company_id
    assert pipeline.project_id is None
    assert [s.display_name for s in pipeline.stages] == ["Dev", "Staging", "Production"]
    assert [s.order for s in pipeline.stages] == [0, 1, 2]
    assert [s.type for s in pipeline.stages] == ["standard", "standard", "prod"]
    for stage, fake_stage in zip(pipeline.stages, made.stages, strict=True):
        assert isinstance(stage, PipelineStage)
        assert stage.id == fake_stage.id
        assert stage.pipeline_id == made.id
        assert stage.auto_create_app is False
        assert stage.stale_app_days == 5
        assert stage.created_at is not None
    (sent,) = fake.requests
    assert (sent.method, sent.path) == ("GET", f"/v3/pipelines/{made.id}")


async def test_get_unknown_pipeline_is_not_found(fake: FakeSevalla, client: SevallaClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.pipelines.get(uuid.uuid4())
    assert info.value.message == "Pipeline not found"
    assert len(fake.requests) == 1


async def test_get_invalid_id_fails_before_any_request(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    with pytest.raises(ValueError, match="pipeline_id"):
        await client.pipelines.get("pipeline-1")
    assert fake.requests == []


async def test_get_reply_without_detail_fields_is_a_validation_error(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """A get reply shaped like a list item would silently lose fields: refused."""
    made = fake.add_pipeline()
    fake.inject(Fault(status=200, body=made.summary()))
    with pytest.raises(APIResponseValidationError, match="company_id"):
        await client.pipelines.get(made.id)


async def test_list_gives_stage_summaries(fake: FakeSevalla, client: SevallaClient) -> None:
    made = fake.add_pipeline(name="api")

    (pipeline,) = [p async for p in client.pipelines.list()]

    assert pipeline.id == made.id
    assert pipeline.display_name == "api"
    assert pipeline.company_id is None  # only get() has it
    assert [(s.id, s.display_name, s.type, s.order) for s in pipeline.stages] == [
        (s.id, s.display_name, s.type, s.order) for s in made.stages
    ]
    assert all(s.pipeline_id is None and s.created_at is None for s in pipeline.stages)
    assert fake.requests[0].query == {"limit": "100", "offset": "0"}


async def test_list_checks_page_size_at_the_call(fake: FakeSevalla, client: SevallaClient) -> None:
    with pytest.raises(ValueError, match="page_size"):
        client.pipelines.list(page_size=500)
    assert fake.requests == []


@pytest.mark.sevalla_loopback
async def test_fake_pipeline_replies_match_the_spec(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    made = fake.add_pipeline(stages=("Preview", "Staging", "Production"))
    fake.add_pipeline(stages=("Only",))
    session = client._transport.session
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    async with session.get(f"{fake.base_url}/pipelines/{made.id}", headers=headers) as reply:
        jsonschema.Draft202012Validator(SPEC["replies"]["getPipelineV3"]).validate(
            await reply.json()
        )
    async with session.get(f"{fake.base_url}/pipelines?limit=1", headers=headers) as reply:
        body = await reply.json()
        jsonschema.Draft202012Validator(SPEC["replies"]["listPipelinesV3"]).validate(body)
    assert (body["total"], body["limit"], len(body["data"])) == (2, 1, 1)

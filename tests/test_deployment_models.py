"""Deployment, DeploymentStatus, Pipeline and PipelineStage, structured by the one converter
from replies shaped like the spec's (pure: no server)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sevalla_async import (
    APIResponseValidationError,
    Deployment,
    DeploymentStatus,
    Pipeline,
    PipelineStage,
)
from sevalla_async._protocol import decode
from sevalla_async._replies import DeploymentPage, PipelineDetail, PipelinePage
from sevalla_async._transport import TransportResponse as Response

APP = "fb5e5168-4281-4bec-94c5-0d1584e9e657"
DEP = "3c1d0a52-5f0e-4a8e-9d8c-2b7f8a6c1e01"


def deployment_json(**overrides: Any) -> dict[str, Any]:
    """The spec's example deployment (every field the spec requires)."""
    data: dict[str, Any] = {
        "id": DEP,
        "app_id": APP,
        "status": "success",
        "type": "manual",
        "trigger": "MANUAL_DEPLOY",
        "steps": ["rollout"],
        "docker_image_url": "us-central1-docker.pkg.dev/project/repo/image:abc123",
        "git_type": "github",
        "repo_url": "https://github.com/user/repo",
        "branch": "main",
        "commit_sha": "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2",
        "commit_message": "feat: add new feature",
        "author_login": "octocat",
        "author_img": "https://avatars.githubusercontent.com/u/583231",
        "started_at": "2025-01-30T00:00:00.000Z",
        "finished_at": "2025-01-30T00:05:00.000Z",
        "created_at": "2025-01-30T00:00:00.000Z",
        "updated_at": "2025-01-30T00:05:00.000Z",
    }
    data.update(overrides)
    return data


def reply(body: Any, status: int = 200) -> Response:
    return Response(status, {"x-request-id": "req_1"}, json.dumps(body).encode())


def test_deployment_has_every_spec_field_typed() -> None:
    deployment = decode(reply(deployment_json()), Deployment)

    assert deployment.id == uuid.UUID(DEP)
    assert deployment.app_id == uuid.UUID(APP)
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.type == "manual"
    assert deployment.trigger == "MANUAL_DEPLOY"
    assert deployment.steps == ("rollout",)
    assert deployment.docker_image_url == "us-central1-docker.pkg.dev/project/repo/image:abc123"
    assert deployment.git_type == "github"
    assert deployment.repo_url == "https://github.com/user/repo"
    assert deployment.branch == "main"
    assert deployment.commit_sha == "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2"
    assert deployment.commit_message == "feat: add new feature"
    assert deployment.author_login == "octocat"
    assert deployment.author_img == "https://avatars.githubusercontent.com/u/583231"
    assert deployment.started_at == datetime(2025, 1, 30, tzinfo=timezone.utc)
    assert deployment.finished_at == datetime(2025, 1, 30, 0, 5, tzinfo=timezone.utc)
    assert deployment.created_at == datetime(2025, 1, 30, tzinfo=timezone.utc)
    assert deployment.updated_at == datetime(2025, 1, 30, 0, 5, tzinfo=timezone.utc)
    assert deployment.is_finished
    assert deployment.succeeded
    assert hash(deployment) == hash(decode(reply(deployment_json()), Deployment))


def test_spec_fields_match_the_model() -> None:
    """The model has exactly the spec's fields (the spec's list is in the test data)."""
    spec = json.loads((Path(__file__).parent / "data" / "spec_replies.json").read_text())
    schema = spec["replies"]["getDeploymentV3"]
    names = {a.name for a in Deployment.__attrs_attrs__}
    assert names == set(schema["properties"])
    assert set(schema["required"]) == names
    statuses = schema["properties"]["status"]["anyOf"][0]["enum"]
    assert {s.value for s in DeploymentStatus if s is not DeploymentStatus.UNKNOWN} == set(statuses)


def test_nullable_fields_are_none() -> None:
    nullable = [
        "app_id",
        "status",
        "type",
        "trigger",
        "docker_image_url",
        "git_type",
        "repo_url",
        "branch",
        "commit_sha",
        "commit_message",
        "author_login",
        "author_img",
        "started_at",
        "finished_at",
    ]
    deployment = decode(reply(deployment_json(**dict.fromkeys(nullable))), Deployment)
    for name in nullable:
        assert getattr(deployment, name) is None, name
    assert not deployment.is_finished
    assert not deployment.succeeded


@pytest.mark.parametrize(
    ("value", "status", "terminal"),
    [
        ("waiting", DeploymentStatus.WAITING, False),
        ("inProgress", DeploymentStatus.IN_PROGRESS, False),
        ("success", DeploymentStatus.SUCCESS, True),
        ("failed", DeploymentStatus.FAILED, True),
        ("cancelled", DeploymentStatus.CANCELLED, True),
        ("skipped", DeploymentStatus.SKIPPED, True),
        ("rolledBack", DeploymentStatus.UNKNOWN, False),
    ],
)
def test_status_values(value: str, status: DeploymentStatus, terminal: bool) -> None:
    deployment = decode(reply(deployment_json(status=value)), Deployment)
    assert deployment.status is status
    assert status.is_terminal is terminal
    assert deployment.is_finished is terminal
    assert deployment.succeeded is (status is DeploymentStatus.SUCCESS)


def test_status_is_a_string_enum() -> None:
    assert DeploymentStatus("inProgress") == "inProgress"
    assert str(DeploymentStatus.IN_PROGRESS) == "inProgress"
    assert DeploymentStatus("somethingNew") is DeploymentStatus.UNKNOWN
    with pytest.raises(ValueError, match="5"):
        DeploymentStatus(5)


def test_unknown_values_of_other_enum_fields_are_kept() -> None:
    deployment = decode(
        reply(deployment_json(type="scheduled", git_type="forgejo", steps=["checkout", "scan"])),
        Deployment,
    )
    assert deployment.type == "scheduled"
    assert deployment.git_type == "forgejo"
    assert deployment.steps == ("checkout", "scan")


def test_unknown_reply_fields_are_ignored() -> None:
    deployment = decode(reply(deployment_json(region="eu-west", extra={"a": 1})), Deployment)
    assert deployment.id == uuid.UUID(DEP)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-30T00:00:00.000Z", datetime(2025, 1, 30, tzinfo=timezone.utc)),
        ("2025-01-30T10:20:30Z", datetime(2025, 1, 30, 10, 20, 30, tzinfo=timezone.utc)),
        ("2025-01-30T10:20Z", datetime(2025, 1, 30, 10, 20, tzinfo=timezone.utc)),
        ("2025-01-30T10:20:30.5Z", datetime(2025, 1, 30, 10, 20, 30, 500000, tzinfo=timezone.utc)),
        (
            "2025-01-30T10:20:30.123456789Z",
            datetime(2025, 1, 30, 10, 20, 30, 123456, tzinfo=timezone.utc),
        ),
        (
            "2025-01-30T10:20:30+02:00",
            datetime(2025, 1, 30, 10, 20, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2025-01-30T10:20:30", datetime(2025, 1, 30, 10, 20, 30, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_are_aware_datetimes(text: str, expected: datetime) -> None:
    deployment = decode(reply(deployment_json(created_at=text)), Deployment)
    assert deployment.created_at == expected
    assert deployment.created_at.tzinfo is not None


@pytest.mark.parametrize(
    "overrides",
    [
        {"created_at": None},
        {"created_at": "yesterday"},
        {"created_at": "2025-02-30T00:00:00Z"},
        {"status": 3},
        {"steps": "rollout"},
        {"steps": [1]},
        {"id": "nope"},
        {"trigger": 5},
    ],
    ids=repr,
)
def test_mistyped_fields_are_validation_errors(overrides: dict[str, Any]) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        decode(reply(deployment_json(**overrides)), Deployment)
    assert info.value.request_id == "req_1"


@pytest.mark.parametrize("missing", ["id", "status", "steps", "git_type", "finished_at"])
def test_missing_required_field_is_a_validation_error(missing: str) -> None:
    data = deployment_json()
    del data[missing]
    with pytest.raises(APIResponseValidationError, match=missing):
        decode(reply(data), Deployment)


def test_deployment_page() -> None:
    page = decode(
        reply({"data": [deployment_json()], "total": 42, "offset": 25, "limit": 25}),
        DeploymentPage,
    )
    assert page.total == 42
    assert page.offset == 25
    assert [d.id for d in page.data] == [uuid.UUID(DEP)]


# --- pipelines -------------------------------------------------------------------------------

PIPE = "6a1f3c2e-8d4b-4e2a-9f1c-0b2d3e4f5a6b"
STAGE = "7b2e4d3f-9e5c-4f3b-8a2d-1c3e4f5a6b7c"
COMPANY = "8c3f5e4a-0f6d-4a4c-9b3e-2d4f5a6b7c8d"


def stage_summary() -> dict[str, Any]:
    return {"id": STAGE, "display_name": "Production", "type": "prod", "order": 1}


def stage_detail() -> dict[str, Any]:
    return {
        **stage_summary(),
        "pipeline_id": PIPE,
        "branch": "main",
        "auto_create_app": True,
        "delete_stale_apps": False,
        "stale_app_days": 7,
        "created_at": "2025-01-30T00:00:00.000Z",
        "updated_at": "2025-01-31T00:00:00.000Z",
    }


def pipeline_summary() -> dict[str, Any]:
    return {
        "id": PIPE,
        "display_name": "web",
        "type": "trunk",
        "stages": [stage_summary()],
        "created_at": "2025-01-30T00:00:00.000Z",
        "updated_at": "2025-01-30T00:00:00.000Z",
    }


def pipeline_detail() -> dict[str, Any]:
    return {
        **pipeline_summary(),
        "company_id": COMPANY,
        "project_id": None,
        "stages": [stage_detail()],
    }


def test_pipeline_from_the_list_reply() -> None:
    page = decode(
        reply({"data": [pipeline_summary()], "total": 1, "offset": 0, "limit": 25}), PipelinePage
    )
    (pipeline,) = page.data
    assert pipeline.id == uuid.UUID(PIPE)
    assert pipeline.type == "trunk"
    assert pipeline.company_id is None
    assert pipeline.stages == (
        PipelineStage(id=uuid.UUID(STAGE), display_name="Production", type="prod", order=1),
    )


def test_pipeline_from_the_get_reply_has_every_field() -> None:
    pipeline = decode(reply(pipeline_detail()), PipelineDetail)
    assert isinstance(pipeline, Pipeline)
    assert pipeline.company_id == uuid.UUID(COMPANY)
    assert pipeline.project_id is None
    (stage,) = pipeline.stages
    assert stage.pipeline_id == uuid.UUID(PIPE)
    assert stage.branch == "main"
    assert stage.auto_create_app is True
    assert stage.delete_stale_apps is False
    assert stage.stale_app_days == 7
    assert stage.created_at == datetime(2025, 1, 30, tzinfo=timezone.utc)
    assert stage.updated_at == datetime(2025, 1, 31, tzinfo=timezone.utc)
    assert hash(pipeline) == hash(decode(reply(pipeline_detail()), PipelineDetail))


@pytest.mark.parametrize(
    ("remove", "path"),
    [
        (lambda d: d.pop("company_id"), "company_id"),
        (lambda d: d.pop("project_id"), "project_id"),
        (lambda d: d["stages"][0].pop("auto_create_app"), r"stages\[0\].auto_create_app"),
        (lambda d: d["stages"][0].pop("branch"), r"stages\[0\].branch"),
    ],
)
def test_get_reply_missing_a_detail_field_is_a_validation_error(remove: Any, path: str) -> None:
    data = pipeline_detail()
    remove(data)
    with pytest.raises(APIResponseValidationError, match=path):
        decode(reply(data), PipelineDetail)


def test_get_reply_of_the_wrong_shape_is_a_validation_error() -> None:
    with pytest.raises(APIResponseValidationError):
        decode(reply([pipeline_detail()]), PipelineDetail)
    with pytest.raises(APIResponseValidationError):
        decode(
            reply({**pipeline_detail(), "stages": [{**stage_detail(), "order": "1"}]}),
            PipelineDetail,
        )


def test_unknown_pipeline_and_stage_types_are_kept() -> None:
    data = pipeline_detail()
    data["type"] = "monorepo"
    data["stages"][0]["type"] = "canary"
    pipeline = decode(reply(data), PipelineDetail)
    assert pipeline.type == "monorepo"
    assert pipeline.stages[0].type == "canary"

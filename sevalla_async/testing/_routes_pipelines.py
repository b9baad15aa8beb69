"""The fake's pipeline routes: promote, list, get."""

from __future__ import annotations

import uuid
from typing import Any

from .._ids import is_api_uuid
from ._http import (
    FakeAPIError,
    FakeRequest,
    Reply,
    Route,
    json_reply,
    page_query,
    path_uuid,
    read_json,
)

__all__ = ["routes"]


def _check_promote_body(body: Any) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Validate like the API's JSON schema does (messages in its ajv style)."""
    if not isinstance(body, dict):
        raise FakeAPIError(400, "body must be object")
    for key in ("source_app_id", "target_app_ids"):
        if key not in body:
            raise FakeAPIError(400, f"body must have required property '{key}'")
    extra = sorted(set(body) - {"source_app_id", "target_app_ids"})
    if extra:
        raise FakeAPIError(400, f"body must NOT have additional properties ('{extra[0]}')")
    source = body["source_app_id"]
    if not isinstance(source, str) or not is_api_uuid(source):
        raise FakeAPIError(400, 'body/source_app_id must match format "uuid"')
    targets = body["target_app_ids"]
    if not isinstance(targets, list):
        raise FakeAPIError(400, "body/target_app_ids must be array")
    if not targets:
        raise FakeAPIError(400, "body/target_app_ids must NOT have fewer than 1 items")
    for i, target in enumerate(targets):
        if not isinstance(target, str) or not is_api_uuid(target):
            raise FakeAPIError(400, f'body/target_app_ids/{i} must match format "uuid"')
    return uuid.UUID(source), [uuid.UUID(t) for t in targets]


def promote(request: FakeRequest) -> Reply:
    state = request.state
    pipeline_id = path_uuid(request, "id")
    source, targets = _check_promote_body(read_json(request))
    pipeline = state.pipelines.get(pipeline_id)
    if pipeline is None:
        raise FakeAPIError(404, "Pipeline not found")
    for app_id in (source, *targets):
        if state.app_pipeline.get(app_id) != pipeline_id:
            raise FakeAPIError(404, f"Application {app_id} not found in this pipeline")
    if state.last_success(source) is None:
        raise FakeAPIError(400, "Source application has no successful deployment to promote")
    made = state.promote(source, targets)
    reply = [{"target_app_id": str(d.app_id), "deployment_id": str(d.id)} for d in made]
    return json_reply(reply)


def list_pipelines(request: FakeRequest) -> Reply:
    limit, offset = page_query(request)
    items = list(request.state.pipelines.values())
    page = [p.summary() for p in items[offset : offset + limit]]
    return json_reply({"data": page, "total": len(items), "offset": offset, "limit": limit})


def get_pipeline(request: FakeRequest) -> Reply:
    pipeline = request.state.pipelines.get(path_uuid(request, "id"))
    if pipeline is None:
        raise FakeAPIError(404, "Pipeline not found")
    return json_reply(pipeline.detail())


def routes(prefix: str) -> list[Route]:
    return [
        Route("POST", f"{prefix}/pipelines/{{id}}/promote", promote),
        Route("GET", f"{prefix}/pipelines", list_pipelines),
        Route("GET", f"{prefix}/pipelines/{{id}}", get_pipeline),
    ]

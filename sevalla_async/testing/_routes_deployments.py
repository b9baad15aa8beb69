"""The fake's deployment routes: get (advances the status), list, cancel, rollback."""

from __future__ import annotations

import uuid

from ._http import FakeAPIError, FakeRequest, Reply, Route, json_reply, page_query, path_uuid
from ._state import FakeDeployment, State, fresh_build

__all__ = ["deployment_of", "routes"]


def deployment_of(state: State, app_id: uuid.UUID, deployment_id: uuid.UUID) -> FakeDeployment:
    """The app's deployment, or the API's 404 (for the app first, then the deployment)."""
    if app_id not in state.app_deployments:
        raise FakeAPIError(404, "Application not found")
    deployment = state.deployments.get(deployment_id)
    if deployment is None or deployment.app_id != app_id:
        raise FakeAPIError(404, "Deployment not found")
    return deployment


def _deployment(request: FakeRequest) -> FakeDeployment:
    request.state.materialize()
    return deployment_of(
        request.state, path_uuid(request, "id"), path_uuid(request, "deployment_id")
    )


def get_deployment(request: FakeRequest) -> Reply:
    deployment = _deployment(request)
    reply = json_reply(deployment.to_json())
    deployment.polls += 1
    return reply


def list_deployments(request: FakeRequest) -> Reply:
    state = request.state
    app_id = path_uuid(request, "id")
    limit, offset = page_query(request)
    if app_id not in state.app_deployments:
        raise FakeAPIError(404, "Application not found")
    state.materialize()
    ids = list(reversed(state.app_deployments[app_id]))  # most recent first
    page = [state.deployments[d].to_json() for d in ids[offset : offset + limit]]
    return json_reply({"data": page, "total": len(ids), "offset": offset, "limit": limit})


def cancel_deployment(request: FakeRequest) -> Reply:
    deployment = _deployment(request)
    if not deployment.cancellable:
        raise FakeAPIError(400, f"Deployment is {deployment.status} and cannot be cancelled")
    deployment.cancel()
    return json_reply({"message": "Deployment is being cancelled"})


def rollback(request: FakeRequest) -> Reply:
    """``rollbackDeploymentV3``: a new deployment of the app that reuses the build of its
    most recent successful deployment (no body; 404 when there is none to go back to)."""
    state = request.state
    app_id = path_uuid(request, "id")
    if app_id not in state.app_deployments:
        raise FakeAPIError(404, "Application not found")
    state.materialize()
    last = state.last_success(app_id)
    if last is None:
        raise FakeAPIError(404, "No successful deployment to roll back to")
    build = last.build or fresh_build(app_id)
    deployment = state.add_deployment(app_id, trigger="ROLLBACK_DEPLOYMENT", build=build)
    return json_reply(deployment.to_json())


def routes(prefix: str) -> list[Route]:
    base = f"{prefix}/applications/{{id}}/deployments"
    return [
        Route("GET", base, list_deployments),
        Route("GET", f"{base}/{{deployment_id}}", get_deployment),
        Route("POST", f"{base}/rollback", rollback),
        Route("POST", f"{base}/{{deployment_id}}/cancel", cancel_deployment),
    ]

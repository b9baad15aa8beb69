"""The fake's deployment routes: get (advances the status), list, cancel."""

from __future__ import annotations

from aiohttp import web

from ._http import STATE, FakeAPIError, json_reply, page_query, path_uuid
from ._state import FakeDeployment

__all__ = ["routes"]


def _deployment(request: web.Request) -> FakeDeployment:
    state = request.app[STATE]
    state.materialize()
    app_id = path_uuid(request, "id")
    deployment_id = path_uuid(request, "deployment_id")
    if app_id not in state.app_deployments:
        raise FakeAPIError(404, "Application not found")
    deployment = state.deployments.get(deployment_id)
    if deployment is None or deployment.app_id != app_id:
        raise FakeAPIError(404, "Deployment not found")
    return deployment


async def get_deployment(request: web.Request) -> web.Response:
    deployment = _deployment(request)
    reply = json_reply(deployment.to_json())
    deployment.polls += 1
    return reply


async def list_deployments(request: web.Request) -> web.Response:
    state = request.app[STATE]
    app_id = path_uuid(request, "id")
    limit, offset = page_query(request)
    if app_id not in state.app_deployments:
        raise FakeAPIError(404, "Application not found")
    state.materialize()
    ids = list(reversed(state.app_deployments[app_id]))  # most recent first
    page = [state.deployments[d].to_json() for d in ids[offset : offset + limit]]
    return json_reply({"data": page, "total": len(ids), "offset": offset, "limit": limit})


async def cancel_deployment(request: web.Request) -> web.Response:
    deployment = _deployment(request)
    if not deployment.cancellable:
        raise FakeAPIError(400, f"Deployment is {deployment.status} and cannot be cancelled")
    deployment.cancel()
    return json_reply({"message": "Deployment is being cancelled"})


def routes(prefix: str) -> list[web.RouteDef]:
    base = f"{prefix}/applications/{{id}}/deployments"
    return [
        web.get(base, list_deployments),
        web.get(f"{base}/{{deployment_id}}", get_deployment),
        web.post(f"{base}/{{deployment_id}}/cancel", cancel_deployment),
    ]

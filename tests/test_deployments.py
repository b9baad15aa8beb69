"""client.deployments get / list / cancel end to end through FakeSevalla, and the fake's
deployments themselves (progress by polls or by seconds, cancel, 404s, spec conformance)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sevalla_async import (
    APIStatusError,
    BadRequestError,
    Deployment,
    DeploymentStatus,
    InternalServerError,
    NotFoundError,
    PromotionState,
    SevallaClient,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

SPEC = json.loads((Path(__file__).parent / "data" / "spec_replies.json").read_text())


def check_spec(operation: str, body: Any) -> None:
    jsonschema.Draft202012Validator(SPEC["replies"][operation]).validate(body)


async def test_get_returns_a_typed_deployment(fake: FakeSevalla, client: SevallaClient) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=["inProgress"])

    deployment = await client.deployments.get(str(app), str(made.id))

    assert isinstance(deployment, Deployment)
    assert deployment.id == made.id
    assert deployment.app_id == app
    assert deployment.status is DeploymentStatus.IN_PROGRESS
    assert deployment.started_at is not None
    assert deployment.finished_at is None
    (sent,) = fake.requests
    assert sent.method == "GET"
    assert sent.path == f"/v3/applications/{app}/deployments/{made.id}"


@pytest.mark.parametrize("which", ["app", "deployment", "other-app"])
async def test_get_unknown_ids_is_not_found(
    fake: FakeSevalla, client: SevallaClient, which: str
) -> None:
    app = fake.add_app(deployed=False)
    other = fake.add_app(deployed=False)
    made = fake.add_deployment(app)
    app_id, deployment_id = {
        "app": (uuid.uuid4(), made.id),
        "deployment": (app, uuid.uuid4()),
        "other-app": (other, made.id),
    }[which]
    with pytest.raises(NotFoundError) as info:
        await client.deployments.get(app_id, deployment_id)
    assert info.value.status_code == 404
    assert info.value.request_id == fake.requests[-1].request_id
    assert len(fake.requests) == 1  # a 404 is not retried


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("nope", "fb5e5168-4281-4bec-94c5-0d1584e9e657"), "app_id"),
        (("fb5e5168-4281-4bec-94c5-0d1584e9e657", "x"), "deployment_id"),
        ((None, "fb5e5168-4281-4bec-94c5-0d1584e9e657"), "app_id"),
    ],
)
async def test_invalid_ids_fail_before_any_request(
    fake: FakeSevalla, client: SevallaClient, args: tuple[Any, Any], field: str
) -> None:
    for call in (client.deployments.get, client.deployments.cancel, client.deployments.wait):
        with pytest.raises(ValueError, match=field):
            await call(*args)
    with pytest.raises(ValueError, match="app_id"):
        client.deployments.list("nope")
    assert fake.requests == []


async def test_list_most_recent_first(fake: FakeSevalla, client: SevallaClient) -> None:
    app = fake.add_app()  # its first, successful deployment
    first = fake.state.app_deployments[app][0]
    later = [fake.add_deployment(app, script=[s]).id for s in ("failed", "success", "waiting")]

    got = [d async for d in client.deployments.list(app, page_size=2)]

    assert [d.id for d in got] == [*reversed(later), first]
    assert [d.status for d in got] == [
        DeploymentStatus.WAITING,
        DeploymentStatus.SUCCESS,
        DeploymentStatus.FAILED,
        DeploymentStatus.SUCCESS,
    ]
    assert [r.query for r in fake.requests] == [
        {"limit": "2", "offset": "0"},
        {"limit": "2", "offset": "2"},
    ]


async def test_list_unknown_app_is_not_found(fake: FakeSevalla, client: SevallaClient) -> None:
    with pytest.raises(NotFoundError):
        [d async for d in client.deployments.list(uuid.uuid4())]


async def test_cancel_a_waiting_deployment_skips_it(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=["waiting"])

    message = await client.deployments.cancel(app, made.id)

    assert message == "Deployment is being cancelled"
    sent = fake.requests[-1]
    assert (sent.method, sent.path) == (
        "POST",
        f"/v3/applications/{app}/deployments/{made.id}/cancel",
    )
    after = await client.deployments.get(app, made.id)
    assert after.status is DeploymentStatus.SKIPPED
    assert after.is_finished
    assert not after.succeeded
    assert after.started_at is None


async def test_cancel_a_running_deployment(fake: FakeSevalla, client: SevallaClient) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=["inProgress"])
    await client.deployments.cancel(app, made.id)
    after = await client.deployments.get(app, made.id)
    assert after.status is DeploymentStatus.CANCELLED
    assert after.finished_at is not None


@pytest.mark.parametrize("status", ["success", "failed", "cancelled", "skipped"])
async def test_cancel_a_finished_deployment_is_an_error(
    fake: FakeSevalla, client: SevallaClient, status: str
) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=[status])
    with pytest.raises(BadRequestError, match="cannot be cancelled"):
        await client.deployments.cancel(app, made.id)
    assert len(fake.requests) == 1
    assert fake.deployment(made.id).status == status


async def test_cancel_twice_is_an_error(fake: FakeSevalla, client: SevallaClient) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=["inProgress"])
    await client.deployments.cancel(app, made.id)
    with pytest.raises(BadRequestError):
        await client.deployments.cancel(app, made.id)


async def test_cancel_unknown_deployment_is_not_found(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app(deployed=False)
    with pytest.raises(NotFoundError):
        await client.deployments.cancel(app, uuid.uuid4())


async def test_cancel_is_not_retried_after_a_5xx(fake: FakeSevalla, client: SevallaClient) -> None:
    """A POST that reached the API may have acted: a 5xx is raised, not retried."""
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=["inProgress"])
    fake.inject(Fault.error(503, after_handling=True), method="POST")
    with pytest.raises(InternalServerError):
        await client.deployments.cancel(app, made.id)
    assert len(fake.requests) == 1
    assert fake.deployment(made.id).cancelled  # it did happen


# --- the fake's deployments ---------------------------------------------------------------------


async def test_fake_deployments_advance_one_step_per_get(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app)  # default script
    seen = [(await client.deployments.get(app, made.id)).status for _ in range(4)]
    assert seen == [
        DeploymentStatus.WAITING,
        DeploymentStatus.IN_PROGRESS,
        DeploymentStatus.SUCCESS,
        DeploymentStatus.SUCCESS,
    ]


async def test_fake_deployments_advance_by_seconds(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=["waiting", "inProgress", "failed"], every=10)
    statuses = []
    for advance in (0, 5, 4.9, 0.1, 9.9, 0.1, 100):
        clock.advance(advance)
        statuses.append((await client.deployments.get(app, made.id)).status)
    assert [str(s) for s in statuses] == [
        "waiting",
        "waiting",
        "waiting",
        "inProgress",
        "inProgress",
        "failed",
        "failed",
    ]


async def test_script_deployments_for_one_app_then_the_default(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    scripted, plain = request.target_app_ids
    fake.script_deployments([None, "failed"], app_id=scripted)
    promotions = await client.pipelines.promote_request(request)
    by_app = {p.target_app_id: p.deployment_id for p in promotions}
    first = await client.deployments.get(scripted, by_app[scripted])
    second = await client.deployments.get(scripted, by_app[scripted])
    assert (first.status, second.status) == (None, DeploymentStatus.FAILED)
    assert (await client.deployments.get(plain, by_app[plain])).status is DeploymentStatus.WAITING

    fake.script_deployments(["inProgress", "success"], every=30)
    (promotion, *_) = await client.pipelines.promote_request(request)
    assert fake.deployment(promotion.deployment_id).every == 30
    clock.advance(30)
    got = await client.deployments.get(promotion.target_app_id, promotion.deployment_id)
    assert got.status is DeploymentStatus.SUCCESS


@pytest.mark.parametrize("every", [0, -1])
def test_script_deployments_checks_its_arguments(fake: FakeSevalla, every: float) -> None:
    with pytest.raises(ValueError, match="every"):
        fake.script_deployments(["success"], every=every)
    with pytest.raises(ValueError, match="statuses"):
        fake.script_deployments([])


@pytest.mark.sevalla_loopback
@pytest.mark.parametrize("script", [["waiting"], ["inProgress"], ["success"], [None], ["failed"]])
async def test_fake_deployment_replies_match_the_spec(
    fake: FakeSevalla, client: SevallaClient, script: list[str | None]
) -> None:
    app = fake.add_app(deployed=False)
    made = fake.add_deployment(app, script=script)
    session = client._transport.session
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    base = f"{fake.base_url}/applications/{app}/deployments"
    async with session.get(f"{base}/{made.id}", headers=headers) as reply:
        check_spec("getDeploymentV3", await reply.json())
    async with session.get(base, headers=headers) as reply:
        check_spec("listDeploymentsV3", await reply.json())
    if script[0] in ("waiting", "inProgress", None):
        async with session.post(f"{base}/{made.id}/cancel", headers=headers) as reply:
            check_spec("cancelDeploymentV3", await reply.json())
        async with session.get(f"{base}/{made.id}", headers=headers) as reply:
            check_spec("getDeploymentV3", await reply.json())
    async with session.get(f"{base}/{uuid.uuid4()}", headers=headers) as reply:
        assert reply.status == 404
        jsonschema.Draft202012Validator(SPEC["error"]).validate(await reply.json())


# --- rollback -----------------------------------------------------------------------------------


async def test_rollback_redeploys_the_last_successful_build(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    pipeline = fake.add_pipeline()
    app = pipeline.stages[1].app_ids[0]
    good = fake.deployment(fake.state.app_deployments[app][0])
    fake.add_deployment(app, script=["failed"])

    deployment = await client.deployments.rollback(str(app))

    assert deployment.app_id == app
    assert deployment.trigger == "ROLLBACK_DEPLOYMENT"
    assert deployment.type == "manual"
    assert deployment.commit_sha == good.to_json()["commit_sha"]  # the good build, reused
    assert deployment.status is DeploymentStatus.WAITING
    done = await client.deployments.wait(app, deployment.id)
    assert done.succeeded
    [sent] = fake.requests_to("POST", "/rollback")
    assert sent.body in (b"", None)


async def test_rollback_without_a_successful_deployment_is_not_found(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.deployments.rollback(fake.add_app(deployed=False))
    assert caught.value.write_state is PromotionState.REJECTED
    assert caught.value.promotion_state is None  # a rollback is a write, not a promotion


async def test_rollback_checks_the_id_before_sending(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    with pytest.raises(ValueError, match="app_id"):
        await client.deployments.rollback("not-a-uuid")
    assert fake.requests == []


async def test_rollback_is_not_resent_after_a_5xx_once_acted(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """A 5xx after the API acted: ``unknown`` with ``sent_at``, one POST, one rollback made."""
    app = fake.add_app()
    fake.inject(Fault.error(502, after_handling=True), method="POST")
    with pytest.raises(APIStatusError) as caught:
        await client.deployments.rollback(app)
    assert caught.value.write_state is PromotionState.UNKNOWN
    assert caught.value.promotion_state is None
    assert caught.value.sent_at is not None
    assert len(fake.requests_to("POST", "/rollback")) == 1
    triggers = [fake.deployment(d).trigger for d in fake.state.app_deployments[app]]
    assert triggers.count("ROLLBACK_DEPLOYMENT") == 1  # it did happen, once


async def test_rollback_is_retried_after_a_429(fake: FakeSevalla, client: SevallaClient) -> None:
    """A 429 proves the API did not act: the rollback is sent again and made once."""
    app = fake.add_app()
    fake.inject(Fault.rate_limited(1), method="POST")
    deployment = await client.deployments.rollback(app)
    assert len(fake.requests_to("POST", "/rollback")) == 2
    assert [d for d in fake.state.app_deployments[app]][-1] == deployment.id


@pytest.mark.parametrize(
    ("fault", "state"),
    [
        (Fault.error(502, after_handling=True), PromotionState.UNKNOWN),
        (Fault.error(409), PromotionState.REJECTED),
    ],
)
async def test_a_cancel_s_error_carries_its_write_state_not_a_promotion_state(
    fake: FakeSevalla, client: SevallaClient, fault: Fault, state: PromotionState
) -> None:
    app = fake.add_app()
    deployment = fake.add_deployment(app, script=["inProgress"])
    fake.inject(fault, method="POST")
    with pytest.raises(APIStatusError) as caught:
        await client.deployments.cancel(app, deployment.id)
    assert caught.value.write_state is state
    assert caught.value.promotion_state is None
    assert (caught.value.sent_at is not None) is (state is PromotionState.UNKNOWN)


async def test_a_promote_s_error_carries_both_states_alike(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [request] = fake.promote_requests(1)
    fake.inject(Fault.error(503), method="POST")
    with pytest.raises(APIStatusError) as caught:
        await client.pipelines.promote_request(request)
    assert caught.value.promotion_state is PromotionState.UNKNOWN
    assert caught.value.write_state is PromotionState.UNKNOWN

"""Attacks on "the build you verified, exactly once" where 0.3's build checks meet the
older machinery (reconciliation, resume, releases): nothing is sent twice, no target is
reported current when it is not, no deployment of another build counts as a success."""

from __future__ import annotations

import uuid

import pytest

from sevalla_async import (
    BuildChangedError,
    PromoteRequest,
    PromotionState,
    SevallaClient,
    TargetOutcome,
    Transport,
    TransportRequest,
    TransportResponse,
)
from sevalla_async.testing import FakeSevalla, Fault

from .helpers import canary_then_rest, promotions_of

PROMOTE = "/promote"


def posts(fake: FakeSevalla) -> int:
    return len(fake.requests_to("POST", PROMOTE))


class PushAfterPost(Transport):
    """Lands a new build on ``source`` right after the ``nth`` promote POST is answered."""

    def __init__(self, inner: Transport, fake: FakeSevalla, source: uuid.UUID, nth: int) -> None:
        self._inner, self._fake, self._source, self._nth = inner, fake, source, nth
        self._posts = 0

    @property
    def base_url(self) -> str:
        return self._inner.base_url

    @property
    def pool_limit(self) -> int | None:
        return self._inner.pool_limit

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def send(self, request: TransportRequest) -> TransportResponse:
        try:
            return await self._inner.send(request)
        finally:
            if request.method == "POST" and request.url.endswith(PROMOTE):
                self._posts += 1
                if self._posts == self._nth:  # seen by reads 20 s (fake clock) later
                    self._fake.deploy(self._source, script=["success"], late=20)


async def test_the_resend_after_reconciling_checks_the_expected_build(
    fake: FakeSevalla, make_client
) -> None:
    """The first POST fails without acting (unknown); the source moves before the re-send:
    the re-send must be refused, not deploy the new build."""
    [request] = fake.promote_requests(1, targets=1)
    source = request.source_app_id
    verified = fake.current_build(source)
    assert verified is not None
    client: SevallaClient = make_client(transport=PushAfterPost(fake.transport(), fake, source, 1))
    fake.inject(Fault.fail_without_acting("error"), method="POST", path=PROMOTE)

    with pytest.raises(BuildChangedError) as caught:
        await client.pipelines.promote(
            request.pipeline_id,
            source_app_id=source,
            target_app_ids=request.target_app_ids,
            expect_build=verified,
            reconcile=True,
            reconcile_settle=30,
        )
    assert caught.value.promotion_state is PromotionState.NOT_SENT
    assert posts(fake) == 1  # only the first, which did nothing
    assert promotions_of(fake, request.target_app_ids[0]) == []


async def test_resume_checks_the_expected_build_before_sending(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [plain] = fake.promote_requests(1, targets=1)
    verified = fake.current_build(plain.source_app_id)
    assert verified is not None
    request = PromoteRequest(
        plain.pipeline_id, plain.source_app_id, plain.target_app_ids, expect_build=verified
    )
    fake.deploy(plain.source_app_id, script=["success"])  # staging moved since
    [target] = request.target_app_ids

    with pytest.raises(BuildChangedError):
        await client.pipelines.resume(request, [TargetOutcome(target, PromotionState.NOT_SENT)])
    assert posts(fake) == 0


async def test_skip_current_does_not_promote_again_a_target_whose_promotion_is_running(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """A first run's promotion is still deploying (a runner died mid-wait); a re-run with
    skip_current must not send that target a second time."""
    [request] = fake.promote_requests(1, targets=1)
    [target] = request.target_app_ids
    fake.script_deployments(["inProgress"], app_id=target)
    [first] = await client.pipelines.promote_request(request)
    assert fake.current_build(target) != fake.current_build(request.source_app_id)

    [again] = await client.pipelines.promote_request(request, skip_current=True)

    assert posts(fake) == 1
    assert again.already_current
    assert again.deployment_id == first.deployment_id


async def test_a_target_about_to_run_another_build_is_not_current(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """The target runs the source's build, but a manual deploy of another build is under
    way on it: it is not current (it will run that other build)."""
    waves = canary_then_rest(fake, targets=2)
    [[_], [rest]] = waves
    first = await client.releases.run(waves)
    assert first.completed
    [target] = rest.target_app_ids
    fake.deploy(target, script=["inProgress", "inProgress", "success"])  # another build

    [promotion] = await client.pipelines.promote_request(rest, skip_current=True)

    assert not promotion.already_current
    assert posts(fake) == 3  # the release's two, and this one

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

from .helpers import canary_then_rest, posts, promotions_of

PROMOTE = "/promote"


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


async def test_a_lost_reply_of_a_narrowed_request_is_settled_without_a_second_post(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Held: one target current, the POST for the other acts then drops the connection."""
    [request] = fake.promote_requests(1, targets=2)
    current, behind = request.target_app_ids
    fake.deploy(current, build_of=request.source_app_id, script=["success"])
    fake.inject(Fault.act_then_fail("disconnect"), method="POST", path=PROMOTE)

    [outcome] = await client.pipelines.promote_many(
        [request], skip_current=True, reconcile=True, reconcile_settle=0, wait=True
    )

    assert outcome.ok, outcome.error
    assert outcome.succeeded
    assert posts(fake) == 1
    assert [r.json()["target_app_ids"] for r in fake.requests_to("POST", PROMOTE)] == [
        [str(behind)]
    ]
    assert [p.already_current for p in outcome.promotions or []] == [True, False]
    assert len(promotions_of(fake, behind)) == 1


async def test_a_push_inside_the_post_is_not_counted_a_success(
    fake: FakeSevalla, make_client
) -> None:
    """Held: the source moves just before the POST reaches the API (after the check)."""
    [request] = fake.promote_requests(1, targets=1)
    source = request.source_app_id
    client: SevallaClient = make_client(transport=PushBeforePost(fake.transport(), fake, source))

    [outcome] = await client.pipelines.promote_many([request], skip_current=True, wait=True)

    assert isinstance(outcome.error, BuildChangedError)
    assert not outcome.succeeded


async def test_a_latest_success_past_the_first_page_is_found(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Held: 15 failed deployments on the source and the target after their successes."""
    [request] = fake.promote_requests(1, targets=1)
    [target] = request.target_app_ids
    fake.deploy(target, build_of=request.source_app_id, script=["success"])
    verified = fake.current_build(request.source_app_id)
    for app in (request.source_app_id, target):
        for _ in range(15):
            fake.deploy(app, script=["failed"])

    [promotion] = await client.pipelines.promote_request(
        PromoteRequest(request.pipeline_id, request.source_app_id, [target], expect_build=verified),
        skip_current=True,
    )
    assert promotion.already_current
    assert posts(fake) == 0


class PushBeforePost(PushAfterPost):
    def __init__(self, inner: Transport, fake: FakeSevalla, source: uuid.UUID) -> None:
        super().__init__(inner, fake, source, 0)

    async def send(self, request: TransportRequest) -> TransportResponse:
        if request.method == "POST" and request.url.endswith(PROMOTE):
            self._fake.deploy(self._source, script=["success"])
        return await self._inner.send(request)


class PushOnPost(PushAfterPost):
    """Lands a new build on ``source`` just before the ``nth`` promote POST arrives."""

    async def send(self, request: TransportRequest) -> TransportResponse:
        if request.method == "POST" and request.url.endswith(PROMOTE):
            self._posts += 1
            if self._posts == self._nth:
                self._fake.deploy(self._source, script=["success"])
        return await self._inner.send(request)


async def test_a_wave_that_deployed_another_build_rolls_it_back(
    fake: FakeSevalla, make_client
) -> None:
    """The push slips in between wave 1's check and its POST: its targets run an
    unverified build, which is not a success: they count as failed and are rolled back."""
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id
    client: SevallaClient = make_client(transport=PushOnPost(fake.transport(), fake, source, 2))

    report = await client.releases.run(waves, on_failure="rollback", skip_current=False)

    wave = report.waves[1]
    assert isinstance(wave.outcomes[0].error, BuildChangedError)
    rest = list(waves[1][0].target_app_ids)
    assert wave.failed_targets == rest
    assert wave.success_ratio == 0.0
    assert sorted(r.app_id for r in wave.rollbacks) == sorted(rest)
    assert all(r.succeeded for r in wave.rollbacks)

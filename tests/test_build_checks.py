"""The build you verified: ``expect_build`` sends nothing when the source moved,
``skip_current`` sends only to the targets that are behind, and a build that moves between
the check and the POST is reported, never counted a success (issue "The build you
verified", items 2 and 4)."""

from __future__ import annotations

import uuid

import pytest

from sevalla_async import (
    Build,
    BuildChangedError,
    PromoteRequest,
    PromotionState,
    SevallaClient,
    Transport,
    TransportRequest,
    TransportResponse,
)
from sevalla_async.testing import FakeSevalla

PROMOTE = "/promote"


def posts(fake: FakeSevalla) -> list[list[str]]:
    return [r.json()["target_app_ids"] for r in fake.requests_to("POST", PROMOTE)]


async def test_an_expected_build_that_differs_sends_nothing(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1)[0]
    before = fake.current_build(request.source_app_id)
    assert before is not None
    with pytest.raises(BuildChangedError) as info:
        await client.pipelines.promote(
            request.pipeline_id,
            source_app_id=request.source_app_id,
            target_app_ids=request.target_app_ids,
            expect_build="0" * 40,
        )
    assert info.value.promotion_state is PromotionState.NOT_SENT
    assert info.value.expected == "0" * 40
    assert info.value.actual == before
    assert str(request.source_app_id) in str(info.value)
    assert posts(fake) == []


@pytest.mark.parametrize("how", ["build", "sha", "short-sha"])
async def test_the_expected_build_is_promoted(
    fake: FakeSevalla, client: SevallaClient, how: str
) -> None:
    request = fake.promote_requests(1)[0]
    build = fake.current_build(request.source_app_id)
    assert build is not None
    assert build.commit_sha is not None
    expected: Build | str = {
        "build": build,
        "sha": build.commit_sha,
        "short-sha": build.commit_sha[:7].upper(),
    }[how]
    made = await client.pipelines.promote(
        request.pipeline_id,
        source_app_id=request.source_app_id,
        target_app_ids=request.target_app_ids,
        expect_build=expected,
    )
    assert [p.target_app_id for p in made] == list(request.target_app_ids)
    assert len(posts(fake)) == 1


def test_an_expect_build_that_can_name_no_build_is_refused_at_once() -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    from sevalla_async import PromoteRequest

    with pytest.raises(ValueError, match="expect_build"):
        PromoteRequest(ids[0], ids[1], [ids[2]], expect_build="abc")
    with pytest.raises(ValueError, match="expect_build"):
        PromoteRequest.from_dict(
            {
                "pipeline_id": ids[0],
                "source_app_id": ids[1],
                "target_app_ids": [ids[2]],
                "expect_build": 42,
            }
        )
    with pytest.raises(ValueError, match="colour: unknown field"):
        PromoteRequest.from_dict(
            {
                "pipeline_id": ids[0],
                "source_app_id": ids[1],
                "target_app_ids": [ids[2]],
                "colour": "red",
            }
        )


async def test_skip_current_sends_only_the_targets_that_are_behind(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1, targets=3)[0]
    first, second, third = request.target_app_ids
    [earlier] = await client.pipelines.promote(
        request.pipeline_id, source_app_id=request.source_app_id, target_app_ids=[second]
    )
    await client.deployments.wait(second, earlier.deployment_id)  # it runs the build now
    made = await client.pipelines.promote(
        request.pipeline_id,
        source_app_id=request.source_app_id,
        target_app_ids=request.target_app_ids,
        skip_current=True,
    )
    assert posts(fake)[-1] == [str(first), str(third)]  # one request, the behind ones
    assert [p.target_app_id for p in made] == [first, second, third]  # target order
    assert [p.already_current for p in made] == [False, True, False]
    assert made[1].deployment_id == earlier.deployment_id  # what put the build there


async def test_skip_current_with_every_target_current_sends_no_post(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1)[0]
    await client.deployments.wait_all(await client.pipelines.promote_request(request))
    again = await client.pipelines.promote_request(request, skip_current=True)
    assert len(posts(fake)) == 1
    assert all(p.already_current for p in again)
    [outcome] = await client.pipelines.promote_many([request], skip_current=True, wait=True)
    assert len(posts(fake)) == 1
    assert outcome.succeeded  # waiting on the deployments already there returns at once
    assert [t.state for t in outcome.targets] == [PromotionState.PROMOTED] * 2


async def test_a_target_on_another_build_is_behind(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1, targets=1)[0]
    await client.deployments.wait_all(await client.pipelines.promote_request(request))
    fake.deploy(request.target_app_ids[0], script=["success"])  # a hotfix of another build
    [made] = await client.pipelines.promote_request(request, skip_current=True)
    assert not made.already_current
    assert len(posts(fake)) == 2


async def test_plan_entries_carry_expect_build(fake: FakeSevalla, client: SevallaClient) -> None:
    good, moved = fake.promote_requests(2)
    build = fake.current_build(good.source_app_id)
    assert build is not None
    assert build.commit_sha is not None
    entries = [
        {
            "pipeline_id": str(r.pipeline_id),
            "source_app_id": str(r.source_app_id),
            "target_app_ids": [str(t) for t in r.target_app_ids],
            "expect_build": sha,
        }
        for r, sha in ((good, build.commit_sha), (moved, "f" * 12))
    ]
    first, second = await client.pipelines.promote_many(entries)
    assert first.ok
    assert isinstance(second.error, BuildChangedError)
    assert second.state is PromotionState.NOT_SENT
    assert len(posts(fake)) == 1


class PushBeforePromote:
    """A push lands on the source just before the promote reaches the API: the build the
    API promotes is not the one checked a moment earlier."""

    def __init__(self, inner: Transport, fake: FakeSevalla, source: uuid.UUID) -> None:
        self._inner, self._fake, self._source = inner, fake, source

    async def send(self, request: TransportRequest) -> TransportResponse:
        if request.method == "POST" and request.url.endswith(PROMOTE):
            self._fake.deploy(self._source, script=["success"])
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_build_that_moves_between_the_check_and_the_post_is_reported(
    fake: FakeSevalla, make_client
) -> None:
    request = fake.promote_requests(1)[0]
    checked = fake.current_build(request.source_app_id)
    assert checked is not None
    client = make_client(transport=PushBeforePromote(fake.transport(), fake, request.source_app_id))
    with pytest.raises(BuildChangedError) as info:
        await client.pipelines.promote_and_wait(
            request.pipeline_id,
            source_app_id=request.source_app_id,
            target_app_ids=request.target_app_ids,
            expect_build=checked,
        )
    error = info.value
    assert error.promotion_state is PromotionState.PROMOTED  # it happened: not to resend
    assert error.expected == checked
    assert error.actual is not None
    assert error.actual != checked
    assert sorted(d.app_id for d in error.deployments) == sorted(request.target_app_ids)

    # the same in a fan-out: the outcome's error, never a success
    again = fake.promote_requests(1)[0]
    client = make_client(transport=PushBeforePromote(fake.transport(), fake, again.source_app_id))
    [outcome] = await client.pipelines.promote_many([again], wait=True, skip_current=True)
    assert isinstance(outcome.error, BuildChangedError)
    assert not outcome.succeeded
    assert outcome.promotions is not None  # what was promoted is still there


async def test_a_resumed_entry_keeps_its_expect_build_for_the_targets_left(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Resuming an entry an earlier run half promoted sends only its other targets, still
    under the entry's own expect_build: a source that moved is refused, not deployed."""
    [request] = fake.promote_requests(1, targets=2)
    first, second = request.target_app_ids
    [made] = await client.pipelines.promote(
        request.pipeline_id, source_app_id=request.source_app_id, target_app_ids=[first]
    )
    expected = PromoteRequest(
        request.pipeline_id, request.source_app_id, [first, second], expect_build="a" * 40
    )
    before = len(fake.requests_to("POST", "/promote"))

    report = await client.releases.run([[expected]], done={(0, 0): [made]}, pin_build=False)

    assert len(fake.requests_to("POST", "/promote")) == before  # the second target: not sent
    [outcome] = report.waves[0].outcomes
    assert isinstance(outcome.error, BuildChangedError)
    assert not report.completed

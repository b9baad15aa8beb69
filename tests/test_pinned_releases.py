"""Pinned releases: the build a canary checked is the build every wave deploys; a re-run of
a finished release sends nothing (issue "The build you verified", items 3 and 4)."""

from __future__ import annotations

import uuid

from sevalla_async import (
    BuildChangedError,
    SevallaClient,
    Transport,
    TransportRequest,
    TransportResponse,
    WaveReport,
)
from sevalla_async.testing import FakeSevalla

from .helpers import canary_then_rest, posts

PROMOTE = "/promote"


async def test_a_push_between_waves_stops_the_release_before_the_next_wave(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id
    pinned = fake.current_build(source)
    assert pinned is not None

    def gate(report: WaveReport) -> bool:
        fake.deploy(source, script=["success"])  # a push lands on staging meanwhile
        return report.succeeded

    report = await client.releases.run(waves, gate=gate)

    assert (report.completed, report.stopped_at) == (False, 1)
    assert posts(fake) == 1  # the canary's only: wave 1 was never sent
    assert report.builds == {source: pinned}
    moved = fake.current_build(source)
    assert moved is not None
    assert report.stopped_reason is not None
    for part in (str(source), str(pinned), str(moved)):
        assert part in report.stopped_reason
    assert [w.index for w in report.waves] == [0]


async def test_without_pinning_the_moved_build_is_deployed(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """The behaviour pinning prevents (0.2's): the second wave deploys the new build."""
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id

    def gate(report: WaveReport) -> bool:
        fake.deploy(source, script=["success"])
        return report.succeeded

    report = await client.releases.run(waves, gate=gate, pin_build=False)
    assert report.completed
    assert report.builds == {}
    canary, later = (w.deployments[0].build for w in report.waves)
    assert canary != later


async def test_a_finished_release_run_again_sends_no_post(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = canary_then_rest(fake, targets=4)
    first = await client.releases.run(waves)
    assert first.completed
    assert posts(fake) == 2

    again = await client.releases.run(waves)  # a CI job retried on a fresh runner

    assert again.completed
    assert posts(fake) == 2  # not one more
    promotions = [p for o in again.outcomes for p in o.promotions or ()]
    assert len(promotions) == 4
    assert all(p.already_current for p in promotions)
    made = {p.deployment_id for o in first.outcomes for p in o.promotions or ()}
    assert {p.deployment_id for p in promotions} == made  # what put the build there


async def test_a_release_sends_only_the_targets_that_are_behind(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = canary_then_rest(fake, targets=3)
    canary = waves[0][0]
    await client.deployments.wait_all(await client.pipelines.promote_request(canary))
    report = await client.releases.run(waves)
    assert report.completed
    sent = [r.json()["target_app_ids"] for r in fake.requests_to("POST", PROMOTE)]
    assert sent == [[str(canary.target_app_ids[0])], [str(t) for t in waves[1][0].target_app_ids]]


class PushOnSecondPromote:
    """A push lands on the source just before the second promote reaches the API."""

    def __init__(self, inner: Transport, fake: FakeSevalla, source: uuid.UUID) -> None:
        self._inner, self._fake, self._source, self._posts = inner, fake, source, 0

    async def send(self, request: TransportRequest) -> TransportResponse:
        if request.method == "POST" and request.url.endswith(PROMOTE):
            self._posts += 1
            if self._posts == 2:
                self._fake.deploy(self._source, script=["success"])
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_wave_that_deployed_another_build_fails_whatever_the_gate_says(
    fake: FakeSevalla, make_client
) -> None:
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id
    client = make_client(transport=PushOnSecondPromote(fake.transport(), fake, source))

    report = await client.releases.run(waves, gate=lambda w: True, skip_current=False)

    assert (report.completed, report.stopped_at) == (False, 1)
    wave = report.waves[1]
    assert wave.passed is False
    assert isinstance(wave.gate_error, BuildChangedError)
    assert isinstance(wave.outcomes[0].error, BuildChangedError)
    assert "BuildChangedError" in (report.stopped_reason or "")


async def test_a_resume_keeps_its_pins_and_stops_on_a_moved_build(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id
    pinned = fake.current_build(source)
    assert pinned is not None
    journal: list[tuple[uuid.UUID, object]] = []
    first = await client.releases.run(waves[:1], on_pin=lambda s, b: journal.append((s, b)))
    assert journal == [(source, pinned)]
    assert first.completed
    fake.deploy(source, script=["success"])

    report = await client.releases.run(waves, start=1, builds={source: pinned})

    assert (report.completed, report.stopped_at) == (False, 1)
    assert posts(fake) == 1
    # re-pinned on purpose (the CLI's --repin): the new build goes out
    repinned = await client.releases.run(waves, start=1)
    assert repinned.completed

"""The write record: every target of a promote keeps its own state, ``sent_at`` and
deployment through reconciliation, a failed or cancelled re-send, and a resume; nothing
found is lost and nothing is promoted twice (issue "Never twice", items 6 and 7)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sevalla_async import (
    ConflictError,
    FanoutLedger,
    PromoteRequest,
    PromotionState,
    SevallaClient,
    TargetOutcome,
    Transport,
    TransportRequest,
    TransportResponse,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

from .helpers import promotions_of

PROMOTE = "/promote"


def two_targets(fake: FakeSevalla) -> tuple[PromoteRequest, uuid.UUID, uuid.UUID]:
    request = fake.promote_requests(1, targets=2)[0]
    first, second = request.target_app_ids
    return request, first, second


async def test_a_refused_resend_keeps_the_promotion_found_before_it(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Regression (item 6): the 409 of the re-send became the state of the whole request
    (no promotions): the target found promoted disappeared and a re-run promoted it again."""
    request, found, missing = two_targets(fake)
    fake.inject(Fault.act_then_fail("error", targets=[found]), method="POST", path=PROMOTE)
    fake.inject(Fault.error(409, "a deployment is already running"), method="POST", path=PROMOTE)

    [outcome] = await client.pipelines.promote_many([request], reconcile=True, reconcile_settle=0)

    assert isinstance(outcome.error, ConflictError)
    [kept] = promotions_of(fake, found)
    assert outcome.promotions is not None
    assert [(p.target_app_id, p.deployment_id) for p in outcome.promotions] == [(found, kept)]
    by_target = {t.target_app_id: t for t in outcome.targets}
    assert by_target[found].state is PromotionState.PROMOTED
    assert by_target[found].deployment_id == kept
    assert by_target[missing].state is PromotionState.REJECTED
    assert by_target[missing].deployment_id is None
    assert outcome.state is PromotionState.REJECTED  # the request as a whole did not finish
    assert promotions_of(fake, missing) == []


async def test_a_refused_resend_error_carries_every_target(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request, found, missing = two_targets(fake)
    fake.inject(Fault.act_then_fail("error", targets=[found]), method="POST", path=PROMOTE)
    fake.inject(Fault.error(409), method="POST", path=PROMOTE)
    with pytest.raises(ConflictError) as info:
        await client.pipelines.promote_request(request, reconcile=True, reconcile_settle=0)
    assert info.value.targets is not None
    states = {t.target_app_id: t.state for t in info.value.targets}
    assert states == {found: PromotionState.PROMOTED, missing: PromotionState.REJECTED}


class HangAfterActing:
    """Forwards every request; from the ``after``-th POST on, the API acts on it but the
    reply never comes (until the caller is cancelled)."""

    def __init__(self, inner: Transport, after: int) -> None:
        self._inner, self._after, self.posts = inner, after, 0
        self.hanging = asyncio.Event()

    async def send(self, request: TransportRequest) -> TransportResponse:
        reply = await self._inner.send(request)
        if request.method == "POST":
            self.posts += 1
            if self.posts >= self._after:
                self.hanging.set()
                await asyncio.Event().wait()  # the reply is lost in transit
        return reply

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_a_cancel_during_the_resend_keeps_each_targets_own_send(
    fake: FakeSevalla, make_client, clock: FakeClock
) -> None:
    """Regression (item 7): a cancel during the re-send left ``unknown`` with the re-send's
    ``sent_at`` and no promotions; reconciling that called the first target not promoted."""
    transport = HangAfterActing(fake.transport(), after=2)
    client = make_client(transport=transport)
    request, found, missing = two_targets(fake)
    fake.inject(Fault.act_then_fail("error", targets=[found]), method="POST", path=PROMOTE)
    ledger = FanoutLedger()
    task = asyncio.create_task(
        client.pipelines.promote_many([request], reconcile=True, reconcile_settle=60, ledger=ledger)
    )
    await transport.hanging.wait()  # the re-send reached the API, its reply is lost
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [outcome] = ledger.outcomes
    by_target = {t.target_app_id: t for t in outcome.targets}
    assert outcome.state is PromotionState.UNKNOWN
    assert by_target[found].state is PromotionState.PROMOTED
    assert by_target[found].deployment_id == promotions_of(fake, found)[0]
    resend = by_target[missing]
    assert resend.state is PromotionState.UNKNOWN
    assert resend.sent_at is not None
    assert by_target[found].sent_at is not None
    assert resend.sent_at > by_target[found].sent_at  # its own send, not the first one

    # Resuming from the record sends nothing: one target is known, the other found in
    # the window of its own send.
    promotions = await client.pipelines.resume(request, outcome.targets, reconcile_settle=60)
    assert len(fake.requests_to("POST", PROMOTE)) == 2
    assert [p.target_app_id for p in promotions] == [found, missing]
    for target in (found, missing):
        assert len(promotions_of(fake, target)) == 1


async def test_resume_sends_only_the_targets_never_sent(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request, first, second = two_targets(fake)
    made = await client.pipelines.promote(
        request.pipeline_id, source_app_id=request.source_app_id, target_app_ids=[first]
    )
    targets = [
        TargetOutcome(first, PromotionState.PROMOTED, None, made[0].deployment_id),
        TargetOutcome(second, PromotionState.NOT_SENT),
    ]
    sent: list[PromoteRequest] = []
    promotions = await client.pipelines.resume(request, targets, on_send=sent.append)
    assert [r.target_app_ids for r in sent] == [(second,)]
    assert [p.target_app_id for p in promotions] == [first, second]
    assert promotions[0].deployment_id == made[0].deployment_id
    assert len(promotions_of(fake, first)) == len(promotions_of(fake, second)) == 1


async def test_resume_refuses_a_record_that_does_not_fit_before_any_io(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request, first, second = two_targets(fake)
    with pytest.raises(ValueError, match="one TargetOutcome per target"):
        await client.pipelines.resume(request, [TargetOutcome(first, PromotionState.NOT_SENT)])
    with pytest.raises(ValueError, match="without sent_at"):
        await client.pipelines.resume(
            request,
            [
                TargetOutcome(first, PromotionState.UNKNOWN),
                TargetOutcome(second, PromotionState.NOT_SENT),
            ],
        )
    assert fake.requests_to("POST", PROMOTE) == []
    assert fake.requests_to("GET", "") == []


async def test_a_plain_fanout_outcome_lists_its_targets(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request, first, second = two_targets(fake)
    [outcome] = await client.pipelines.promote_many([request])
    assert outcome.per_target is None  # nothing per target stored on the usual path
    assert [(t.target_app_id, t.state) for t in outcome.targets] == [
        (first, PromotionState.PROMOTED),
        (second, PromotionState.PROMOTED),
    ]
    assert all(t.sent_at == outcome.sent_at for t in outcome.targets)

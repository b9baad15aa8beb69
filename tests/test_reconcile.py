"""Promotion states, reply checks and reconciliation against FakeSevalla (fake clock)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from sevalla_async import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    PromotionState,
    PromotionUnresolvedError,
    SevallaClient,
    Transport,
    TransportRequest,
    TransportResponse,
)
from sevalla_async._reconcile import server_offset
from sevalla_async.testing import FakeClock, FakeSevalla, Fault, RateLimit

from .helpers import promotions_of

PROMOTE = "/promote"


# --- states --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "state"),
    [
        (Fault.error(400), PromotionState.REJECTED),
        (Fault.error(404), PromotionState.REJECTED),
        (Fault.error(409), PromotionState.REJECTED),
        (Fault.error(422), PromotionState.REJECTED),
        (Fault.error(500), PromotionState.UNKNOWN),
        (Fault.act_then_fail("error", status=502), PromotionState.UNKNOWN),
        (Fault.disconnect("after"), PromotionState.UNKNOWN),
        (Fault.malformed("<html>"), PromotionState.UNKNOWN),
    ],
)
async def test_every_promote_error_carries_its_state(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock, fault: Fault, state: str
) -> None:
    request = fake.promote_requests(1)[0]
    fake.inject(fault, method="POST", path=PROMOTE)
    before = clock.wall()
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.promotion_state is state
    if state is PromotionState.UNKNOWN:
        assert info.value.sent_at is not None
        assert info.value.sent_at.timestamp() == pytest.approx(before, abs=1)
    else:
        assert info.value.sent_at is None


async def test_429_after_the_retries_is_not_sent(make_client, fake: FakeSevalla) -> None:
    client = make_client(max_retries=1)
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(1), times=2, method="POST")
    with pytest.raises(APIStatusError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.promotion_state is PromotionState.NOT_SENT


async def test_connect_failure_is_not_sent(clock: FakeClock) -> None:
    async with SevallaClient(
        "k", base_url="http://127.0.0.1:9/v3", max_retries=0, sleep=clock.sleep, clock=clock
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.pipelines.promote(
                uuid.uuid4(), source_app_id=uuid.uuid4(), target_app_ids=[uuid.uuid4()]
            )
    assert info.value.promotion_state is PromotionState.NOT_SENT
    assert info.value.sent_at is None


# --- reply checks --------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["empty", "one-of-two", "twice", "stranger", "bad-version"])
async def test_a_reply_not_covering_each_target_once_is_unknown(
    fake: FakeSevalla, client: SevallaClient, reply: str
) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    a, b = request.target_app_ids
    dep = str(uuid.uuid4())
    body = {
        "empty": [],
        "one-of-two": [{"target_app_id": str(a), "deployment_id": dep}],
        "twice": [
            {"target_app_id": str(a), "deployment_id": dep},
            {"target_app_id": str(a), "deployment_id": dep},
        ],
        "stranger": [
            {"target_app_id": str(a), "deployment_id": dep},
            {"target_app_id": str(uuid.uuid4()), "deployment_id": dep},
        ],
        "bad-version": [
            {"target_app_id": str(a), "deployment_id": "12345678-1234-0234-8234-123456789abc"},
            {"target_app_id": str(b), "deployment_id": dep},
        ],
    }[reply]
    fake.inject(Fault(status=200, body=body, after_handling=True), method="POST")
    with pytest.raises(APIResponseValidationError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.promotion_state is PromotionState.UNKNOWN
    assert info.value.sent_at is not None
    assert isinstance(info.value.body, str)
    assert info.value.body.startswith("[")


async def test_reply_in_any_order_comes_back_in_target_order(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    request = fake.promote_requests(1, targets=3)[0]
    ids = [str(uuid.uuid4()) for _ in range(3)]
    body = [
        {"target_app_id": str(t), "deployment_id": d}
        for t, d in reversed(list(zip(request.target_app_ids, ids, strict=True)))
    ]
    fake.inject(Fault(status=200, body=body), method="POST")
    promotions = await client.pipelines.promote_request(request)
    assert [p.target_app_id for p in promotions] == list(request.target_app_ids)


async def test_a_large_promote_reply_fits_under_a_grown_cap(make_client, fake) -> None:
    client = make_client(max_response_size=2048)
    pipeline = fake.add_pipeline(apps_per_stage=60)  # a reply of ~6.6 kB
    promotions = await client.pipelines.promote_request(pipeline.promote_request(0, 1))
    assert len(promotions) == 60


async def test_a_hostile_promote_reply_stays_bounded(make_client, fake) -> None:
    client = make_client(max_response_size=2048)
    request = fake.promote_requests(1, targets=2)[0]
    fake.inject(Fault(status=200, body="[" + " " * 200_000 + "]"), method="POST")
    with pytest.raises(APIResponseValidationError) as info:
        await client.pipelines.promote_request(request)
    assert "max_response_size" in str(info.value)
    assert info.value.promotion_state is PromotionState.UNKNOWN


# --- reconciliation: the evidence rules ----------------------------------------------------


async def ambiguous(fake, client, fault, *, targets=2):
    request = fake.promote_requests(1, targets=targets)[0]
    fake.inject(fault, method="POST", path=PROMOTE)
    with pytest.raises(APIError) as info:
        await client.pipelines.promote_request(request)
    assert info.value.promotion_state is PromotionState.UNKNOWN
    return request, info.value.sent_at


async def test_reconcile_finds_what_an_act_then_fail_made(fake, client, clock) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [True, True]
    for verdict, target in zip(verdicts, request.target_app_ids, strict=True):
        assert verdict.target_app_id == target
        assert [verdict.deployment.id] == promotions_of(fake, target)


async def test_not_promoted_only_after_the_settle_period(fake, client, clock) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.fail_without_acting("error"))
    early = await client.pipelines.reconcile(request, sent_at=sent_at, settle=60)
    assert [v.promoted for v in early] == [None, None]
    clock.advance(61)
    late = await client.pipelines.reconcile(request, sent_at=sent_at, settle=60)
    assert [v.promoted for v in late] == [False, False]


async def test_a_subset_acted_on(fake, client, clock) -> None:
    request = fake.promote_requests(1, targets=3)[0]
    first = request.target_app_ids[0]
    fake.inject(Fault.act_then_fail("disconnect", targets=[first]), method="POST")
    with pytest.raises(APIConnectionError) as info:
        await client.pipelines.promote_request(request)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=info.value.sent_at)
    assert [v.promoted for v in verdicts] == [True, False, False]


async def test_same_build_automatic_deploy_in_the_window_is_not_the_promotion(
    fake, client, clock
) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.fail_without_acting("disconnect"))
    for target in request.target_app_ids:
        fake.deploy(target, build_of=request.source_app_id, automatic=True)
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [False, False]


async def test_another_builds_manual_deploy_is_not_the_promotion(fake, client, clock) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.fail_without_acting("error"))
    for target in request.target_app_ids:
        fake.deploy(target)  # a person deploys some other build
    clock.advance(200)
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [False, False]


async def test_a_source_build_made_after_the_request_is_not_what_was_promoted(
    fake, client, clock
) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    clock.advance(300)
    fake.deploy(request.source_app_id)  # a new build on the source, after the window
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [True, True]


@pytest.mark.parametrize("skew", [-3600.0, 3600.0])
async def test_server_clock_skew_both_ways(fake, client, clock, skew: float) -> None:
    fake.clock_skew = skew
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [True, True]
    # ...and a deployment an hour off on the client's clock is not mistaken for it
    request2, sent2 = await ambiguous(fake, client, Fault.fail_without_acting("error"))
    clock.advance(200)
    verdicts2 = await client.pipelines.reconcile(request2, sent_at=sent2)
    assert [v.promoted for v in verdicts2] == [False, False]


async def test_skew_ignored_would_have_misjudged(fake, client, clock) -> None:
    """Without the Date offset the window would miss the deployments entirely."""
    fake.clock_skew = 3600.0
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    created = fake.state.deployments[promotions_of(fake, request.target_app_ids[0])[0]]
    assert created.created_at - sent_at > timedelta(minutes=59)
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert all(v.promoted for v in verdicts)


class LyingDate:
    """A front end that stamps every reply with a ``Date`` ``ahead`` seconds off (a stale
    cache, a misconfigured proxy); the deployments' ``created_at`` stay right."""

    def __init__(self, inner: Transport, clock: FakeClock, ahead: float) -> None:
        self._inner, self._clock, self._ahead = inner, clock, ahead

    async def send(self, request: TransportRequest) -> TransportResponse:
        reply = await self._inner.send(request)
        headers = CIMultiDict(reply.headers)
        headers["Date"] = format_datetime(
            datetime.fromtimestamp(self._clock.wall() + self._ahead, timezone.utc), usegmt=True
        )
        return TransportResponse(reply.status, CIMultiDictProxy(headers), reply.body)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.parametrize("ahead", [-3600.0, 3600.0])
async def test_a_lying_date_never_turns_a_promotion_into_not_made(
    fake: FakeSevalla, make_client, clock: FakeClock, ahead: float
) -> None:
    """A wrong ``Date`` would move the window off the promotion; what the client's own
    clock finds keeps the verdict undecided, so it is never promoted a second time."""
    client = make_client(transport=LyingDate(fake.transport(), clock, ahead))
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    clock.advance(200)  # settled: a False would be final
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [None, None]  # without the check: [False, False]
    # an hour ahead: the promotion is found on the client's clock only; an hour behind: the
    # window is before the source's first build, which is unknown then
    why = "the clocks disagree" if ahead > 0 else "the source app's promoted build is unknown"
    assert why in verdicts[0].reason


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Tue, 01 Dec 2026 10:00:30 GMT", 30.0),  # 30 s ahead
        ("Tue, 01 Dec 2026 09:00:00 GMT", -3600.0),  # an hour behind
        ("Tue, 01 Dec 2026 10:00:00 +0100", -3600.0),  # another zone, same rule
        ("yesterday-ish", None),
        ("Tue, 99 Dec 2026 10:00:00 GMT", None),  # no such day
        ("", None),
    ],
)
def test_a_date_header_gives_the_offset_or_nothing(header: str, expected: float | None) -> None:
    now = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc).timestamp()
    assert server_offset(header, now) == expected


async def test_late_creation_is_found_not_denied(fake, client, clock) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error", late=40))
    first = await client.pipelines.reconcile(request, sent_at=sent_at, settle=60)
    assert [v.promoted for v in first] == [None, None]  # nothing yet, not settled
    clock.advance(41)
    second = await client.pipelines.reconcile(request, sent_at=sent_at, settle=60)
    assert [v.promoted for v in second] == [True, True]


async def test_a_late_creation_first_read_long_after_is_found_at_its_time(
    fake, client, clock
) -> None:
    """The fake dates a late deployment when its time came, not when it is next asked: a
    reconcile that first reads long after the settle period finds it (it once read as
    created then, outside the window, and the target was promoted a second time)."""
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error", late=40))
    clock.advance(500)  # nothing asks the fake in between
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [True, True]
    for verdict in verdicts:
        assert verdict.deployment is not None
        late = verdict.deployment.created_at - sent_at - timedelta(seconds=fake.clock_skew)
        assert timedelta(seconds=39) <= late <= timedelta(seconds=41)


async def test_failing_reads_give_none_never_false(fake, client, clock) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.fail_without_acting("error"))
    clock.advance(200)
    fake.inject(Fault.error(503), times=1000, method="GET")
    verdicts = await client.pipelines.reconcile(request, sent_at=sent_at)
    assert [v.promoted for v in verdicts] == [None, None]
    assert "could not read" in verdicts[0].reason
    fake.clear_faults()


async def test_paging_stops_once_older_than_the_window(fake, client, clock) -> None:
    request = fake.promote_requests(1, targets=1)[0]
    target = request.target_app_ids[0]
    for _ in range(250):  # an old history: 3 pages
        fake.deploy(target)
    clock.advance(1000)
    fake.inject(Fault.act_then_fail("error"), method="POST")
    with pytest.raises(APIStatusError) as info:
        await client.pipelines.promote_request(request)
    for _ in range(150):  # a busy target after the request: the promotion is on page 2
        fake.deploy(target)
    clock.advance(200)
    gets_before = len(fake.requests_to("GET", "/deployments"))
    verdicts = await client.pipelines.reconcile(request, sent_at=info.value.sent_at)
    assert verdicts[0].promoted is True
    assert verdicts[0].deployment.id == promotions_of(fake, target)[0]
    reads = len(fake.requests_to("GET", "/deployments")) - gets_before
    assert reads == 1 + 2  # the source: one page; the target: two pages, not all four


async def test_reads_spend_the_read_budget_only(fake, client, clock) -> None:
    request, sent_at = await ambiguous(fake, client, Fault.act_then_fail("error"))
    posts = len(fake.requests_to("POST"))
    await client.pipelines.reconcile(request, sent_at=sent_at)
    assert len(fake.requests_to("POST")) == posts


# --- reconcile=True ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault.act_then_fail("error"),
        Fault.act_then_fail("disconnect"),
        Fault.act_then_fail("error", late=30),
        Fault.fail_without_acting("error"),
        Fault.fail_without_acting("disconnect"),
    ],
)
async def test_promote_with_reconcile_promotes_each_target_exactly_once(
    fake, client, clock, fault: Fault
) -> None:
    request = fake.promote_requests(1, targets=3)[0]
    fake.inject(fault, method="POST", path=PROMOTE)
    promotions = await client.pipelines.promote_request(request, reconcile=True)
    assert [p.target_app_id for p in promotions] == list(request.target_app_ids)
    for p in promotions:
        assert promotions_of(fake, p.target_app_id) == [p.deployment_id]


async def test_reconcile_repromotes_only_the_missing_targets_in_one_post(
    fake, client, clock
) -> None:
    request = fake.promote_requests(1, targets=3)[0]
    a, b, c = request.target_app_ids
    fake.inject(Fault.act_then_fail("error", targets=[b]), method="POST", path=PROMOTE)
    promotions = await client.pipelines.promote_request(request, reconcile=True)
    posts = fake.requests_to("POST", PROMOTE)
    assert len(posts) == 2
    assert posts[1].json()["target_app_ids"] == [str(a), str(c)]
    assert [p.target_app_id for p in promotions] == [a, b, c]
    assert all(len(promotions_of(fake, t)) == 1 for t in (a, b, c))


async def test_unresolved_after_the_timeout(fake, client, clock) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    fake.inject(Fault.fail_without_acting("error"), method="POST", path=PROMOTE)
    fake.inject(Fault.error(503), times=10_000, method="GET")
    with pytest.raises(PromotionUnresolvedError) as info:
        await client.pipelines.promote_request(request, reconcile=True, reconcile_timeout=60)
    assert info.value.promotion_state is PromotionState.UNKNOWN
    assert [v.promoted for v in info.value.verdicts] == [None, None]
    assert len(fake.requests_to("POST", PROMOTE)) == 1
    fake.clear_faults()


async def test_reconcile_refuses_bad_input_before_io(fake, client) -> None:
    request = fake.promote_requests(1)[0]
    with pytest.raises(ValueError, match="sent_at"):
        await client.pipelines.reconcile(request, sent_at="yesterday")  # type: ignore[arg-type]
    sent = datetime.now(timezone.utc)
    with pytest.raises(ValueError, match="settle"):
        await client.pipelines.reconcile(request, sent_at=sent, settle=-1)
    with pytest.raises(ValueError, match="reconcile_timeout"):
        await client.pipelines.promote_request(request, reconcile=True, reconcile_timeout=-1)
    assert fake.requests == []


async def test_an_ambiguous_repromotion_is_reconciled_too(fake, client, clock) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    path = f"/pipelines/{request.pipeline_id}/promote"
    fake.inject(Fault.fail_without_acting("error"), method="POST", path=path)
    fake.inject(Fault.act_then_fail("disconnect"), method="POST", path=path)
    promotions = await client.pipelines.promote_request(request, reconcile=True)
    assert len(fake.requests_to("POST", path)) == 2
    for p in promotions:
        assert promotions_of(fake, p.target_app_id) == [p.deployment_id]


async def test_a_rate_limit_hold_past_the_deadline_is_not_sent(make_client) -> None:
    async with FakeSevalla(write_limit=RateLimit(1, 60)) as fake:
        client = make_client(base_url=fake.base_url, api_key=fake.api_key, timeout=5.0)
        first, second = fake.promote_requests(2)
        await client.pipelines.promote_request(first)
        with pytest.raises(APIError) as info:
            await client.pipelines.promote_request(second)
        assert info.value.promotion_state is PromotionState.NOT_SENT
        assert len(fake.requests_to("POST")) == 1


async def test_promote_and_wait_reconciles(fake, client, clock) -> None:
    request = fake.promote_requests(1, targets=2)[0]
    fake.inject(Fault.act_then_fail("error"), method="POST")
    deployments = await client.pipelines.promote_and_wait(
        request.pipeline_id,
        source_app_id=request.source_app_id,
        target_app_ids=request.target_app_ids,
        reconcile=True,
        poll_interval=0.1,
    )
    assert [d.app_id for d in deployments] == list(request.target_app_ids)
    assert all(d.succeeded for d in deployments)
    assert len(fake.requests_to("POST")) == 1


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"settle": 1e12}, "settle: must be at most 1e9"),
        ({"settle": float("inf")}, "settle: must be at most 1e9"),
        ({"sent_at": datetime(9999, 12, 31, tzinfo=timezone.utc)}, "sent_at: must be between"),
        ({"sent_at": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))}, "sent_at: must"),
    ],
)
async def test_times_past_the_calendar_are_refused_by_name_not_overflowed(
    make_client, fake: FakeSevalla, options: dict[str, object], named: str
) -> None:
    """A window is dates: a settle period or a send time the calendar cannot hold was an
    ``OverflowError`` from deep inside the rules; it is a ``ValueError`` naming the
    option, before anything is read."""
    client = make_client()
    request = fake.promote_requests(1)[0]
    keywords: dict[str, Any] = {"sent_at": datetime.now(timezone.utc), **options}
    with pytest.raises(ValueError, match=named):
        await client.pipelines.reconcile(request, **keywords)
    with pytest.raises(ValueError, match="reconcile_settle: must be at most 1e9"):
        await client.pipelines.promote_request(
            request, reconcile=True, reconcile_settle=float("inf")
        )
    assert fake.requests == []

"""client.releases.run: waves promoted and waited for, gated, stopped or rolled back, every
entry accounted for; end to end against the in-memory fake with the fake clock."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sevalla_async import (
    DeploymentProgress,
    PromoteRequest,
    PromotionState,
    ReleaseLedger,
    SevallaClient,
    WaveReport,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

PROMOTE = "/promote"
FAILING = ["waiting", "inProgress", "failed"]


def make_waves(fake: FakeSevalla, sizes: list[int], targets: int = 2) -> list[list[PromoteRequest]]:
    return [fake.promote_requests(n, targets=targets) for n in sizes]


def promoted_targets(fake: FakeSevalla) -> list[str]:
    return [t for r in fake.requests_to("POST", PROMOTE) for t in r.json()["target_app_ids"]]


def rolled_back(fake: FakeSevalla) -> list[str]:
    return [r.path.split("/")[-3] for r in fake.requests_to("POST", "/deployments/rollback")]


def targets_of(wave: list[PromoteRequest]) -> list[str]:
    return [str(t) for r in wave for t in r.target_app_ids]


async def test_all_waves_pass(fake: FakeSevalla, client: SevallaClient) -> None:
    waves = make_waves(fake, [1, 2, 3])
    seen: list[tuple[int, bool | None]] = []
    polled: list[DeploymentProgress] = []

    report = await client.releases.run(
        waves,
        on_wave=lambda i, r: seen.append((i, None if r is None else r.passed)),
        on_deployment=polled.append,
    )

    assert report.completed
    assert report.stopped_at is None
    assert [w.index for w in report.waves] == [0, 1, 2]
    assert all(w.passed and w.succeeded and not w.rollbacks for w in report.waves)
    assert [len(w.deployments) for w in report.waves] == [2, 4, 6]
    assert all(d.succeeded for w in report.waves for d in w.deployments)
    assert seen == [(0, None), (0, True), (1, None), (1, True), (2, None), (2, True)]
    assert {p.wave for p in polled} == {0, 1, 2}
    assert not any(p.rollback for p in polled)
    assert promoted_targets(fake) == [t for w in waves for t in targets_of(w)]
    assert rolled_back(fake) == []


async def test_waves_run_one_after_the_other(fake: FakeSevalla, client: SevallaClient) -> None:
    """No POST of wave k+1 before every deployment of wave k has finished."""
    waves = make_waves(fake, [2, 2])
    order: list[str] = []
    await client.releases.run(
        waves,
        on_wave=lambda i, r: order.append(f"{'end' if r else 'start'} {i}"),
        on_deployment=lambda p: order.append(f"poll {p.wave}") if p.deployment.is_finished else 0,
    )
    assert order == ["start 0", *["poll 0"] * 4, "end 0", "start 1", *["poll 1"] * 4, "end 1"]


@pytest.mark.parametrize("k", [0, 1, 2])
async def test_a_failed_wave_stops_the_release(
    fake: FakeSevalla, client: SevallaClient, k: int
) -> None:
    waves = make_waves(fake, [1, 2, 2, 1])
    bad = waves[k][0].target_app_ids[1]
    fake.script_deployments(FAILING, app_id=bad)
    ledger = ReleaseLedger()

    report = await client.releases.run(waves, ledger=ledger)

    assert not report.completed
    assert report.stopped_at == k
    assert len(report.waves) == k + 1
    assert report.waves[k].passed is False
    assert report.waves[k].failed_targets == [bad]
    # nothing of the waves after k was sent, nothing rolled back
    assert promoted_targets(fake) == [t for w in waves[: k + 1] for t in targets_of(w)]
    assert rolled_back(fake) == []
    # every entry of every wave is accounted for: those never started are not_sent
    assert len(ledger) == sum(len(w) for w in waves)
    for wave, outcome in ledger.outcomes:
        expected = PromotionState.PROMOTED if wave <= k else PromotionState.NOT_SENT
        assert outcome.state is expected
    assert ledger.gates == {**{i: True for i in range(k)}, k: False}


async def test_rollback_rolls_back_exactly_the_failed_targets(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = make_waves(fake, [1, 3, 1], targets=2)
    failed = [waves[1][0].target_app_ids[0], waves[1][2].target_app_ids[1]]
    fake.script_deployments(FAILING, app_id=failed[0])
    fake.script_deployments(["waiting", "cancelled"], app_id=failed[1])
    ledger = ReleaseLedger()
    polled: list[DeploymentProgress] = []

    report = await client.releases.run(
        waves, on_failure="rollback", ledger=ledger, on_deployment=polled.append
    )

    assert report.stopped_at == 1
    assert not report.completed
    assert sorted(rolled_back(fake)) == sorted(str(a) for a in failed)  # not the others
    wave = report.waves[1]
    assert [r.app_id for r in wave.rollbacks] == failed
    for rollback in wave.rollbacks:  # waited for to the end
        assert rollback.succeeded
        assert rollback.state is PromotionState.PROMOTED
        assert rollback.deployment is not None
        assert rollback.deployment.is_finished
        assert rollback.deployment.trigger == "ROLLBACK_DEPLOYMENT"
        assert fake.deployment(rollback.deployment.id).status == "success"
    assert report.waves[0].rollbacks == []
    assert {(p.wave, p.deployment.app_id) for p in polled if p.rollback} == {(1, a) for a in failed}
    assert [r.app_id for r in ledger.rollbacks] == failed
    assert promoted_targets(fake) == [t for w in waves[:2] for t in targets_of(w)]


async def test_rollback_goes_back_to_the_build_before_the_wave(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [[request]] = waves = make_waves(fake, [1], targets=1)
    target = request.target_app_ids[0]
    before = fake.deployment(fake.state.app_deployments[target][0]).to_json()["commit_sha"]
    fake.script_deployments(FAILING, app_id=target)

    report = await client.releases.run(waves, on_failure="rollback")

    [rollback] = report.rollbacks
    assert rollback.deployment is not None
    assert rollback.deployment.commit_sha == before


async def test_a_rejected_entry_is_not_rolled_back(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """A promotion the API refused deployed nothing: nothing to roll back for it."""
    [wave] = make_waves(fake, [2], targets=1)
    fake.inject(Fault.error(400), method="POST", path=PROMOTE)  # the first entry's POST
    report = await client.releases.run([wave], on_failure="rollback", concurrency=1)
    assert report.stopped_at == 0
    assert report.waves[0].outcomes[0].state is PromotionState.REJECTED
    assert report.waves[0].outcomes[1].succeeded
    assert rolled_back(fake) == []


async def test_sync_gate_decides(fake: FakeSevalla, client: SevallaClient) -> None:
    waves = make_waves(fake, [4, 1], targets=1)
    fake.script_deployments(FAILING, app_id=waves[0][3].target_app_ids[0])
    ratios: list[float] = []

    def gate(wave: WaveReport) -> bool:
        assert wave.passed is None  # being decided
        ratios.append(wave.success_ratio)
        return wave.success_ratio >= 0.75

    report = await client.releases.run(waves, gate=gate)

    assert report.completed
    assert ratios == [0.75, 1.0]
    assert report.waves[0].passed
    assert not report.waves[0].succeeded


async def test_async_gate_can_stop_a_healthy_wave(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    waves = make_waves(fake, [1, 1, 1])
    checked: list[int] = []

    async def health_check(wave: WaveReport) -> bool:
        await clock.sleep(30)  # an external check that takes time
        checked.append(wave.index)
        return wave.index < 1

    report = await client.releases.run(waves, gate=health_check, on_failure="rollback")

    assert checked == [0, 1]
    assert report.stopped_at == 1
    assert rolled_back(fake) == []  # every deployment succeeded: nothing to roll back
    assert promoted_targets(fake) == [t for w in waves[:2] for t in targets_of(w)]


async def test_a_gate_answering_no_bool_fails_its_wave_with_the_report(
    fake: FakeSevalla, client: SevallaClient, caplog: pytest.LogCaptureFixture
) -> None:
    waves = make_waves(fake, [1, 1])
    report = await client.releases.run(waves, gate=lambda w: "yes")  # type: ignore[arg-type,return-value]
    assert (report.completed, report.stopped_at) == (False, 0)
    assert isinstance(report.waves[0].gate_error, TypeError)
    assert "must return True or False" in str(report.waves[0].gate_error)
    assert report.waves[0].outcomes[0].promotions  # the wave's deployments are reported
    assert len(fake.requests_to("POST", PROMOTE)) == 1  # the next wave is not sent
    assert "the gate failed" in caplog.text


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_gate_that_raises_is_a_failed_gate_and_rollback_runs(
    fake: FakeSevalla, client: SevallaClient, kind: str
) -> None:
    """Regression: a gate raising after its wave was promoted made releases.run() raise
    that bare exception: no report, no deployment ids, no rollback."""
    waves = make_waves(fake, [2, 1])
    bad = waves[0][1].target_app_ids[0]
    fake.script_deployments(FAILING, app_id=bad)  # something to roll back

    def gate(report: WaveReport) -> bool:
        raise RuntimeError("metrics backend down")

    async def agate(report: WaveReport) -> bool:
        raise RuntimeError("metrics backend down")

    report = await client.releases.run(
        waves, gate=gate if kind == "sync" else agate, on_failure="rollback"
    )
    wave = report.waves[0]
    assert (report.completed, report.stopped_at, wave.passed) == (False, 0, False)
    assert isinstance(wave.gate_error, RuntimeError)
    assert [p.deployment_id for o in wave.outcomes for p in o.promotions or ()]
    assert [r.app_id for r in wave.rollbacks] == [bad]  # the failed target rolled back
    assert rolled_back(fake) == [str(bad)]
    assert len(fake.requests_to("POST", PROMOTE)) == 2  # wave 0's two entries only


async def test_ambiguous_promote_in_a_wave_is_reconciled(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = make_waves(fake, [1, 2], targets=3)
    fake.inject(Fault.act_then_fail("error"), method="POST", path=PROMOTE)

    report = await client.releases.run(waves, reconcile=True)

    assert report.completed
    targets = [t for w in waves for t in targets_of(w)]
    # the ambiguous POST had acted: not promoted again, each target deployed once
    assert len(fake.requests_to("POST", PROMOTE)) == 3
    for target in targets:
        promotions = [
            d
            for d in fake.state.app_deployments[uuid.UUID(target)]
            if fake.deployment(d).trigger == "PROMOTION"
        ]
        assert len(promotions) == 1
    assert all(o.succeeded for o in report.outcomes)


async def test_ambiguous_promote_without_reconcile_stops_and_rolls_back(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Without reconcile an ``unknown`` entry fails the gate, and its targets (maybe
    deployed) are rolled back."""
    waves = make_waves(fake, [1, 1], targets=2)
    fake.inject(Fault.act_then_fail("error"), method="POST", path=PROMOTE)
    report = await client.releases.run(waves, on_failure="rollback")
    assert report.stopped_at == 0
    assert report.waves[0].outcomes[0].state is PromotionState.UNKNOWN
    assert sorted(rolled_back(fake)) == sorted(targets_of(waves[0]))


async def test_cancellation_mid_wave_accounts_for_every_entry(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = make_waves(fake, [1, 4, 2], targets=1)
    fake.script_deployments(["waiting"] * 5 + ["success"])
    ledger = ReleaseLedger()
    task: asyncio.Task[object] | None = None

    def cancel_in_wave_1(progress: DeploymentProgress) -> None:
        if progress.wave == 1 and task is not None:
            task.cancel()

    task = asyncio.ensure_future(
        client.releases.run(waves, ledger=ledger, concurrency=2, on_deployment=cancel_in_wave_1)
    )
    with pytest.raises(asyncio.CancelledError):
        await task

    assert len(ledger) == 7  # one outcome per entry, whatever its fate
    states = {(w, o.index): o.state for w, o in ledger.outcomes}
    assert states[(0, 0)] is PromotionState.PROMOTED
    assert all(states[(2, i)] is PromotionState.NOT_SENT for i in range(2))
    wave1 = [states[(1, i)] for i in range(4)]
    sent = len(fake.requests_to("POST", PROMOTE)) - 1
    assert sent == 2  # two entries in flight
    # in flight (promoted, waiting): unknown with sent_at; never read: not_sent
    assert wave1.count(PromotionState.NOT_SENT) == 2
    assert wave1.count(PromotionState.UNKNOWN) == 2
    for _, outcome in ledger.outcomes:
        if outcome.state is PromotionState.UNKNOWN:
            assert outcome.sent_at is not None
    assert len(fake.requests_to("POST", PROMOTE)) == 3


async def test_cancellation_during_rollbacks_accounts_for_them(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves = make_waves(fake, [2], targets=1)
    for request in waves[0]:
        fake.script_deployments(FAILING, app_id=request.target_app_ids[0])
    ledger = ReleaseLedger()
    task: asyncio.Task[object] | None = None

    def cancel_on_rollback(progress: DeploymentProgress) -> None:
        if progress.rollback and task is not None:
            task.cancel()

    task = asyncio.ensure_future(
        client.releases.run(
            waves, ledger=ledger, on_failure="rollback", on_deployment=cancel_on_rollback
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(ledger.rollbacks) == 2
    assert {r.app_id for r in ledger.rollbacks} == {r.target_app_ids[0] for r in waves[0]}
    assert all(r.deployment is not None for r in ledger.rollbacks)


@pytest.mark.parametrize(
    ("waves", "message"),
    [
        ([], r"waves: at least one wave"),
        ("abc", r"waves: expected a list"),
        ([[]], r"waves\[0\]: a wave needs at least one request"),
        ([{"a": 1}], r"waves\[0\]: expected a list of requests"),
        ([[{"pipeline_id": "x"}]], r"waves\[0\]\[0\]"),
    ],
)
async def test_invalid_waves_are_refused_before_anything_is_sent(
    fake: FakeSevalla, client: SevallaClient, waves: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await client.releases.run(waves)  # type: ignore[arg-type]
    assert fake.requests == []


async def test_a_bad_entry_in_a_later_wave_is_refused_before_the_first_is_sent(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    waves: list[list[object]] = [list(make_waves(fake, [1])[0]), [{"pipeline_id": "nope"}]]
    with pytest.raises(ValueError, match=r"waves\[1\]\[0\]"):
        await client.releases.run(waves)  # type: ignore[arg-type]
    assert fake.requests == []


async def test_a_target_in_two_waves_is_refused(fake: FakeSevalla, client: SevallaClient) -> None:
    [request] = make_waves(fake, [1])[0]
    with pytest.raises(ValueError, match=r"waves\[1\]\[0\]\.target_app_ids: .* waves\[0\]\[0\]"):
        await client.releases.run([[request], [request]])
    assert fake.requests == []


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"on_failure": "undo"}, "on_failure"),
        ({"gate": 3}, "gate"),
        ({"ledger": []}, "ledger"),
        ({"wait_timeout": -1}, "timeout"),
        ({"reconcile": "yes"}, "reconcile"),
        ({"start": 5}, "start"),
    ],
)
async def test_invalid_options_are_refused_before_anything_is_sent(
    fake: FakeSevalla, client: SevallaClient, options: dict[str, object], name: str
) -> None:
    waves = make_waves(fake, [1])
    with pytest.raises(ValueError, match=name):
        await client.releases.run(waves, **options)  # type: ignore[arg-type]
    assert fake.requests == []


async def test_start_skips_finished_waves(fake: FakeSevalla, client: SevallaClient) -> None:
    waves = make_waves(fake, [1, 1, 1])
    report = await client.releases.run(waves, start=1)
    assert [w.index for w in report.waves] == [1, 2]
    assert report.completed
    assert promoted_targets(fake) == [t for w in waves[1:] for t in targets_of(w)]


async def test_a_failing_rollback_is_reported_and_not_resent(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """A 5xx after the API acted on a rollback: ``unknown``, one POST, the other rollback
    still made and waited for."""
    [wave] = make_waves(fake, [2], targets=1)
    first, second = (r.target_app_ids[0] for r in wave)
    for app in (first, second):
        fake.script_deployments(FAILING, app_id=app)
    fake.inject(
        Fault.error(502, after_handling=True),
        method="POST",
        path=f"/applications/{first}/deployments/rollback",
    )

    report = await client.releases.run([wave], on_failure="rollback")

    bad, good = report.rollbacks
    assert bad.app_id == first
    assert bad.state is PromotionState.UNKNOWN
    assert bad.sent_at is not None
    assert bad.error is not None
    assert not bad.succeeded
    assert good.succeeded
    assert sorted(rolled_back(fake)) == sorted([str(first), str(second)])  # one POST each


async def test_done_promotions_are_waited_for_not_sent_again(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Resuming: what an earlier run promoted (``done``) is waited for and gated, not sent;
    an entry partly done has only its other targets promoted."""
    waves = make_waves(fake, [2, 1], targets=2)
    first = await client.pipelines.promote_request(waves[0][0])  # made by "an earlier run"
    partial = await client.pipelines.promote_request(
        PromoteRequest(
            waves[0][1].pipeline_id, waves[0][1].source_app_id, waves[0][1].target_app_ids[:1]
        )
    )
    before = len(fake.requests_to("POST", PROMOTE))
    sent: list[tuple[int, int, list[str]]] = []

    report = await client.releases.run(
        waves,
        done={(0, 0): first, (0, 1): partial},
        on_send=lambda w, i, r: sent.append((w, i, [str(t) for t in r.target_app_ids])),
    )

    assert report.completed
    assert sent == [
        (0, 1, [str(waves[0][1].target_app_ids[1])]),
        (1, 0, targets_of(waves[1])),
    ]
    assert len(fake.requests_to("POST", PROMOTE)) - before == 2
    wave = report.waves[0]
    assert [o.index for o in wave.outcomes] == [0, 1]
    assert wave.outcomes[0].promotions == first
    assert [d.app_id for d in wave.outcomes[1].deployments or []] == list(
        waves[0][1].target_app_ids
    )
    assert wave.outcomes[1].request == waves[0][1]
    assert wave.succeeded


async def test_done_is_checked_before_sending(fake: FakeSevalla, client: SevallaClient) -> None:
    waves = make_waves(fake, [1])
    with pytest.raises(ValueError, match=r"done\[\(1, 0\)\]"):
        await client.releases.run(waves, done={(1, 0): []})
    assert fake.requests == []


async def test_rollbacks_an_earlier_run_sent_are_not_sent_again(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """Resuming after a failed wave: a rollback an earlier run made (its deployment known)
    is waited for, one that may have been made (``None``) is reported ``unknown``; neither
    is sent again, and only the other failed target is rolled back."""
    waves = make_waves(fake, [1], targets=3)
    failed = list(waves[0][0].target_app_ids)
    earlier = await client.deployments.rollback(failed[0])  # made by "an earlier run"
    for app in failed:  # (scripted after it: a script is for the app's next deployment)
        fake.script_deployments(FAILING, app_id=app)
    before = rolled_back(fake)
    sending: list[tuple[int, uuid.UUID]] = []

    report = await client.releases.run(
        waves,
        on_failure="rollback",
        rolled_back={(0, failed[0]): earlier.id, (0, failed[1]): None},
        on_rollback_send=lambda w, a: sending.append((w, a)),
    )

    assert report.stopped_at == 0
    assert sending == [(0, failed[2])]
    assert rolled_back(fake)[len(before) :] == [str(failed[2])]
    known, unknown, new = report.waves[0].rollbacks
    assert [r.app_id for r in (known, unknown, new)] == failed
    assert known.deployment is not None
    assert known.deployment.id == earlier.id
    assert known.succeeded  # waited for to the end
    assert known.state is PromotionState.PROMOTED
    assert unknown.state is PromotionState.UNKNOWN
    assert unknown.deployment is None
    assert not unknown.succeeded
    assert new.succeeded


async def test_a_rollback_that_cannot_be_journaled_is_not_sent_nor_any_after_it(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    """A journal that cannot record a rollback before it leaves must stop new rollbacks:
    they are reported ``not_sent`` with the journal's error, and the report is returned
    (it raised out of the rollback workers)."""
    waves = make_waves(fake, [1], targets=3)
    for app in waves[0][0].target_app_ids:
        fake.script_deployments(FAILING, app_id=app)
    calls: list[uuid.UUID] = []

    def journal(wave: int, app: uuid.UUID) -> None:
        calls.append(app)
        raise OSError(28, "No space left on device")

    report = await client.releases.run(waves, on_failure="rollback", on_rollback_send=journal)

    assert rolled_back(fake) == []
    assert len(calls) == 1  # nothing tried after the first refusal
    rollbacks = report.waves[0].rollbacks
    assert len(rollbacks) == 3
    assert all(r.state is PromotionState.NOT_SENT for r in rollbacks)
    assert all(isinstance(r.error, OSError) for r in rollbacks)


@pytest.mark.parametrize(
    "rolled",
    [{(1, uuid.uuid4()): None}, {(0, uuid.uuid4()): None}, {"0": None}],
    ids=["no-such-wave", "not-a-target", "not-a-key"],
)
async def test_rolled_back_is_checked_before_sending(
    fake: FakeSevalla, client: SevallaClient, rolled: dict[object, None]
) -> None:
    waves = make_waves(fake, [1])
    with pytest.raises(ValueError, match=r"rolled_back\["):
        await client.releases.run(waves, rolled_back=rolled)  # type: ignore[arg-type]
    assert fake.requests == []

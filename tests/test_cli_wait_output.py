"""The CLI's waiting parts with plain values (options, results, output, status changes), and
the plan seam with ``--wait`` through the in-process fake on the fake clock."""

from __future__ import annotations

import argparse
import uuid

import pytest

from sevalla_async import (
    APITimeoutError,
    Deployment,
    DeploymentStatus,
    InternalServerError,
    NotFoundError,
    PromoteRequest,
    Promotion,
    SevallaClient,
    WaitAllError,
    WaitOptions,
)
from sevalla_async._cli._console import UsageError
from sevalla_async._cli._output import error_json
from sevalla_async._cli._plan_runner import PlanOutcome, run_plan
from sevalla_async._cli._rows import (
    WAITED_OUTCOME_COLUMNS,
    describe_waited,
    outcome_json,
    outcome_rows,
    tally,
    waited_json,
    waited_promotion_json,
)
from sevalla_async._cli._waiting import (
    StatusWatch,
    Waited,
    WaitFlags,
    status_name,
    wait_options,
    waited_from_deployments,
    waited_from_error,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault

from .helpers import make_deployment

P, S, T1, T2, D1, D2 = (uuid.uuid4() for _ in range(6))


def deployment(status: str | None, *, id: uuid.UUID = D1, app: uuid.UUID | None = T1) -> Deployment:
    return make_deployment(id, app, status)


def timeout(last: Deployment | None) -> APITimeoutError:
    return APITimeoutError("did not finish before the wait's timeout", last_result=last)


# --- options -------------------------------------------------------------------------------


def _args(**given: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "wait_timeout": None,
        "poll_interval": None,
        "polls_per_minute": None,
    }
    values.update(given)
    return argparse.Namespace(**values)


def test_wait_options_defaults_and_given_values() -> None:
    # the SDK's defaults: 15 minutes, polls at least 1 s apart, no cap over the budget share
    assert wait_options(_args(wait=True)) == WaitFlags(900.0, 1.0, None)
    assert wait_options(_args()) == WaitFlags(900.0, 1.0, None)  # the wait command
    options = wait_options(_args(wait=True, wait_timeout=60.0, poll_interval=30.0))
    assert options == WaitFlags(60.0, 30.0, None)
    assert options.kwargs() == {"timeout": 60.0, "poll_interval": 30.0, "options": WaitOptions()}
    assert wait_options(_args(polls_per_minute=60)) == WaitFlags(900.0, 1.0, 60)


def test_wait_options_without_wait() -> None:
    assert wait_options(_args(wait=False)) is None
    with pytest.raises(UsageError, match=r"^--polls-per-minute applies only with --wait$"):
        wait_options(_args(wait=False, polls_per_minute=10))


# --- results and how they print ------------------------------------------------------------


def test_waited_from_deployments_and_from_a_wait_all_error() -> None:
    done = deployment("success", id=D1, app=None)  # an app_id the API left out
    assert waited_from_deployments([done], [T1]) == [Waited(T1, D1, done)]

    failed = deployment("failed", id=D2, app=T2)
    stuck = timeout(deployment("inProgress", id=D1))
    error = WaitAllError([stuck, failed], [Promotion(T1, D1), Promotion(T2, D2)])
    first, second = waited_from_error(error)
    assert (first.app_id, first.deployment_id, first.status, first.error) == (
        T1,
        D1,
        "inProgress",
        stuck,
    )
    assert not first.succeeded
    assert (second.status, second.error, second.succeeded) == ("failed", None, False)


def test_describe_and_tally() -> None:
    ok = Waited(T1, D1, deployment("success"))
    failed = Waited(T1, D1, deployment("failed"))
    late = Waited(T1, D1, deployment("waiting"), timeout(deployment("waiting")))
    unseen = Waited(T1, D1, None, timeout(None))
    gone = Waited(T1, D1, None, NotFoundError("Deployment not found", status_code=404))
    assert [describe_waited(w) for w in (ok, failed, late, unseen, gone)] == [
        "success",
        "failed",
        "waiting (the wait timed out)",
        "unknown (the wait timed out before any poll answered)",
        "null (NotFoundError 404: Deployment not found)",
    ]
    assert [w.succeeded for w in (ok, failed, late, unseen, gone)] == [True] + [False] * 4
    assert tally([gone, late, failed, ok, ok, unseen]) == (
        "6 deployments: 2 success, 1 failed, 2 timed out, 1 error"
    )
    assert tally([ok]) == "1 deployment: 1 success"
    assert tally([]) == "0 deployments"


def test_outcome_json_and_rows_with_wait() -> None:
    request = PromoteRequest(P, S, [T1, T2])
    waited = [
        Waited(T1, D1, deployment("success", id=D1, app=T1)),
        Waited(T2, D2, deployment("inProgress", id=D2, app=T2), timeout(None)),
    ]
    promotions = [Promotion(T1, D1), Promotion(T2, D2)]
    stopped = PlanOutcome(2, request, promotions, timeout(None), waited)
    all_done = PlanOutcome(3, request, promotions, None, waited[:1])
    not_promoted = PlanOutcome(4, request, error=InternalServerError("down", status_code=503))

    data = outcome_json(stopped, waits=True)
    assert data["ok"] is False
    assert data["deployments"] == [
        {"app_id": str(T1), "deployment_id": str(D1), "status": "success", "error": None},
        {
            "app_id": str(T2),
            "deployment_id": str(D2),
            "status": "inProgress",
            "error": {
                "type": "APITimeoutError",
                "message": str(timeout(None)),
                "status": None,
                "code": None,
                "request_id": None,
                "state": None,
            },
        },
    ]
    assert outcome_json(all_done, waits=True)["ok"] is True
    assert outcome_json(not_promoted, waits=True)["deployments"] is None
    assert "deployments" not in outcome_json(all_done)
    # one cell per column of the --wait table: its STATUS header sits over the status
    assert outcome_rows(stopped, waits=True) == [
        ("2", "ok", str(P), str(T1), str(D1), "success"),
        ("2", "failed", str(P), str(T2), str(D2), "inProgress (the wait timed out)"),
    ]
    assert all(len(row) == len(WAITED_OUTCOME_COLUMNS) for row in outcome_rows(stopped))
    assert WAITED_OUTCOME_COLUMNS[-1].startswith("STATUS")
    (failed_row,) = outcome_rows(not_promoted, waits=True)
    assert len(failed_row) == len(WAITED_OUTCOME_COLUMNS)
    assert waited_json(waited[0])["status"] == "success"
    assert waited_promotion_json(request, waited[1]) == {
        "pipeline_id": str(P),
        "source_app_id": str(S),
        "target_app_id": str(T2),
        "deployment_id": str(D2),
        "status": "inProgress",
        "ok": False,
        "error": {**error_json(timeout(None)), "type": "APITimeoutError", "state": None},
    }


# --- status changes ------------------------------------------------------------------------


def test_status_watch_reports_each_change_once() -> None:
    now = [10.0]
    changes: list[tuple[uuid.UUID, str, float]] = []
    watch = StatusWatch(
        lambda d, elapsed: changes.append((d.id, status_name(d), elapsed)), clock=lambda: now[0]
    )
    for when, status, id in [
        (10.5, None, D1),
        (11.0, "waiting", D1),
        (11.5, "waiting", D2),
        (12.0, "waiting", D1),
        (13.0, "inProgress", D1),
        (14.0, "success", D1),
    ]:
        now[0] = when
        watch(deployment(status, id=id))

    assert changes == [
        (D1, "null", 0.5),
        (D1, "waiting", 1.0),
        (D2, "waiting", 1.5),
        (D1, "inProgress", 3.0),
        (D1, "success", 4.0),
    ]
    assert watch.trail(D1) == ["null", "waiting", "inProgress", "success"]
    assert watch.trail(uuid.uuid4()) == []
    assert watch.polls == 6
    last = watch.last(D1)
    assert last is not None
    assert last.status is DeploymentStatus.SUCCESS
    assert [d.id for d in watch.seen()] == [D1, D2]
    StatusWatch()(deployment("waiting"))  # without on_change it only remembers


# --- the plan seam with --wait -------------------------------------------------------------


async def test_run_plan_with_wait_promotes_then_waits_per_entry(
    fake: FakeSevalla, client: SevallaClient, clock: FakeClock
) -> None:
    requests = fake.promote_requests(4, targets=2)
    fake.script_deployments(
        ["waiting", "inProgress", "failed"], app_id=requests[1].target_app_ids[1]
    )
    fake.script_deployments(["inProgress"], app_id=requests[2].target_app_ids[0])
    fake.inject(
        Fault.error(503), method="POST", path=f"/pipelines/{requests[3].pipeline_id}/promote"
    )
    polled: list[tuple[int, uuid.UUID]] = []
    started: list[int] = []
    start = clock()

    outcomes = {
        o.index: o
        async for o in run_plan(
            client,
            requests,
            concurrency=2,
            on_start=started.append,
            wait=WaitFlags(timeout=120, poll_interval=2),
            on_poll=lambda index, d: polled.append((index, d.id)),
        )
    }

    assert sorted(started) == [0, 1, 2, 3]
    assert [outcomes[i].ok for i in range(4)] == [True, False, False, False]
    for i in (0, 1, 2):
        outcome = outcomes[i]
        assert [w.app_id for w in outcome.waited or ()] == list(requests[i].target_app_ids)
        assert [p.deployment_id for p in outcome.promotions or ()] == [
            w.deployment_id for w in outcome.waited or ()
        ]
        for w in outcome.waited or ():
            assert (i, w.deployment_id) in polled  # every poll tells its entry
            assert w.status == fake.deployment(w.deployment_id).status
    assert [w.status for w in outcomes[0].waited or ()] == ["success", "success"]
    assert outcomes[0].error is None
    assert [w.status for w in outcomes[1].waited or ()] == ["success", "failed"]
    assert outcomes[1].error is None  # a failed deployment is a result, not an error
    stuck, done = outcomes[2].waited or ()
    assert isinstance(outcomes[2].error, WaitAllError)
    assert isinstance(stuck.error, APITimeoutError)
    assert (stuck.status, done.status) == ("inProgress", "success")
    assert isinstance(outcomes[3].error, InternalServerError)
    assert outcomes[3].waited is None
    assert outcomes[3].promotions is None
    assert fake.max_in_flight <= 2
    # On the fake clock: the stuck entry was polled until its own 120 s ran out.
    assert 100 < clock() - start < 240


async def test_run_plan_without_wait_is_unchanged(fake: FakeSevalla, client: SevallaClient) -> None:
    requests = fake.promote_requests(2, targets=1)
    started: list[int] = []
    outcomes = [o async for o in run_plan(client, requests, concurrency=2, on_start=started.append)]
    assert sorted(started) == [0, 1]
    assert all(o.ok and o.waited is None for o in outcomes)
    assert fake.requests_to("GET") == []  # no --wait, no polls

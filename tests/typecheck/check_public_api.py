# pyright: strict, reportUnnecessaryTypeIgnoreComment=true
"""Type-checking test of the public API (never imported or run by pytest: it has no
``test_`` prefix). CI checks it with ``mypy --strict`` (``warn_unused_ignores``) and pyright
strict (``reportUnnecessaryTypeIgnoreComment``, set above), as the README's second set-up
command says.

Correct use must type-check with no error. Every misuse carries a ``# type: ignore[code]``:
mypy and pyright both report an ignore that suppresses nothing, so if the API ever accepted
the misuse again (an ``Any`` creeping back in), the check would fail.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sevalla_async import (
    APIResponse,
    Deployment,
    Deployments,
    FanoutKeywords,
    FanoutLedger,
    FanoutProgress,
    OnIndexedPoll,
    OnPoll,
    Pipelines,
    ProgressHook,
    PromoteAndWaitKeywords,
    PromoteOutcome,
    PromoteRequest,
    PromoteRequestDict,
    Promotion,
    PromotionState,
    ReconcileKeywords,
    SevallaClient,
    WaitKeywords,
    WaitOptions,
)

PIPELINE = "11111111-1111-4111-8111-111111111111"
SOURCE = uuid.UUID("22222222-2222-4222-8222-222222222222")
TARGET = "33333333-3333-4333-8333-333333333333"


# --- PromoteRequest: the constructor takes ids as str or UUID; the fields are UUIDs ---------


def request_construction() -> None:
    by_position = PromoteRequest(PIPELINE, SOURCE, [TARGET, SOURCE.hex])
    by_keyword = PromoteRequest(
        pipeline_id=uuid.UUID(PIPELINE), source_app_id=str(SOURCE), target_app_ids=(TARGET,)
    )
    from_generator = PromoteRequest(PIPELINE, SOURCE, (t for t in [TARGET]))
    pipeline_id: uuid.UUID = by_position.pipeline_id
    targets: tuple[uuid.UUID, ...] = by_keyword.target_app_ids
    print(pipeline_id, targets, from_generator)


def request_misuse() -> None:
    PromoteRequest(123, None, [TARGET])  # type: ignore[arg-type]
    PromoteRequest(PIPELINE, SOURCE, [1, 2])  # type: ignore[list-item]
    PromoteRequest(PIPELINE, SOURCE, [TARGET], "extra")  # type: ignore[call-arg]
    PromoteRequest(PIPELINE, SOURCE)  # type: ignore[call-arg]
    request = PromoteRequest(PIPELINE, SOURCE, [TARGET])
    text: str = request.pipeline_id  # type: ignore[assignment]
    print(text)


# --- target_app_ids: any collection (or iterator) of ids, never one plain str ---------------


async def target_ids(client: SevallaClient, ids: list[uuid.UUID], named: dict[str, int]) -> None:
    PromoteRequest(PIPELINE, SOURCE, ids)
    PromoteRequest(PIPELINE, SOURCE, (TARGET, SOURCE))
    PromoteRequest(PIPELINE, SOURCE, {TARGET})
    PromoteRequest(PIPELINE, SOURCE, named.keys())
    PromoteRequest(PIPELINE, SOURCE, iter([TARGET]))
    entry: PromoteRequestDict = {
        "pipeline_id": PIPELINE,
        "source_app_id": SOURCE,
        "target_app_ids": ids,
    }
    await client.pipelines.promote(PIPELINE, source_app_id=SOURCE, target_app_ids=(TARGET,))
    await client.pipelines.promote_and_wait(PIPELINE, source_app_id=SOURCE, target_app_ids=ids)
    await client.pipelines.with_raw_response.promote(
        PIPELINE, source_app_id=SOURCE, target_app_ids=[SOURCE]
    )
    print(entry)


async def target_ids_misuse(client: SevallaClient) -> None:
    # A plain str is a sequence of one-character strs: refused, not split into ids.
    PromoteRequest(PIPELINE, SOURCE, TARGET)  # type: ignore[arg-type]
    PromoteRequest(PIPELINE, SOURCE, target_app_ids=TARGET)  # type: ignore[arg-type]
    PromoteRequest(PIPELINE, SOURCE, TARGET.encode())  # type: ignore[arg-type]
    entry: PromoteRequestDict = {
        "pipeline_id": PIPELINE,
        "source_app_id": SOURCE,
        "target_app_ids": TARGET,  # type: ignore[typeddict-item]
    }
    await client.pipelines.promote(
        PIPELINE,
        source_app_id=SOURCE,
        target_app_ids=TARGET,  # type: ignore[arg-type]
    )
    await client.pipelines.promote_and_wait(
        PIPELINE,
        source_app_id=SOURCE,
        target_app_ids=TARGET,  # type: ignore[arg-type]
    )
    await client.pipelines.with_raw_response.promote(
        PIPELINE,
        source_app_id=SOURCE,
        target_app_ids=TARGET,  # type: ignore[arg-type]
    )
    print(entry)


# --- plan entries: PromoteRequest or PromoteRequestDict -------------------------------------


def plan_entries() -> list[PromoteRequest | PromoteRequestDict]:
    entry: PromoteRequestDict = {
        "pipeline_id": PIPELINE,
        "source_app_id": SOURCE,
        "target_app_ids": [TARGET],
    }
    return [entry, PromoteRequest.from_dict(entry), PromoteRequest(PIPELINE, SOURCE, [TARGET])]


def plan_entry_misuse() -> None:
    missing: PromoteRequestDict = {  # type: ignore[typeddict-item]
        "pipeline_id": PIPELINE,
        "source_app_id": SOURCE,
    }
    wrong: PromoteRequestDict = {
        "pipeline_id": PIPELINE,
        "source_app_id": SOURCE,
        "target_app_ids": 5,  # type: ignore[typeddict-item]
    }
    print(missing, wrong)


# --- the client: annotated resources, typed fan-out, hooks -----------------------------------


async def client_use(client: SevallaClient) -> None:
    pipelines: Pipelines = client.pipelines
    deployments: Deployments = client.deployments

    promotions: list[Promotion] = await pipelines.promote(
        PIPELINE, source_app_id=SOURCE, target_app_ids=[TARGET]
    )
    print(promotions)

    def show(deployment: Deployment) -> None:
        print(deployment.status)

    def show_indexed(index: int, deployment: Deployment) -> None:
        print(index, deployment.status)

    def progress(progress: FanoutProgress) -> None:
        print(progress.done, progress.total)

    on_poll: OnPoll = show
    on_indexed: OnIndexedPoll = show_indexed
    on_progress: ProgressHook = progress
    finished: Deployment = await deployments.wait(SOURCE, TARGET, on_poll=on_poll, timeout=None)
    print(finished)

    ledger = FanoutLedger()
    outcomes: list[PromoteOutcome] = await pipelines.promote_many(
        plan_entries(), on_progress=on_progress, on_poll=on_indexed, ledger=ledger
    )
    for outcome in outcomes:
        state: PromotionState = outcome.state
        # request is the validated PromoteRequest, or the raw (invalid) input: narrow it.
        if isinstance(outcome.request, PromoteRequest):
            print(state, outcome.request.pipeline_id)

    stream: AsyncIterator[PromoteOutcome] = pipelines.promote_iter(iter(plan_entries()))
    async for outcome in stream:
        print(outcome.index)

    patient: SevallaClient = client.with_options(timeout=300, max_retries=6)
    raw: APIResponse[list[Promotion]] = await patient.pipelines.with_raw_response.promote(
        PIPELINE, source_app_id=SOURCE, target_app_ids=[TARGET]
    )
    request_id: str | None = raw.request_id
    parsed: list[Promotion] = raw.parse()
    print(request_id, parsed)


# --- keyword options: each family declared once, every keyword typed, a typo flagged ------


async def keyword_options(client: SevallaClient, promotions: list[Promotion]) -> None:
    def show(deployment: Deployment) -> None:
        print(deployment.status)

    def show_indexed(index: int, deployment: Deployment) -> None:
        print(index, deployment.status)

    def progress(progress: FanoutProgress) -> None:
        print(progress.done)

    outcomes: list[PromoteOutcome] = await client.pipelines.promote_many(
        plan_entries(),
        concurrency=8,
        fail_fast=True,
        on_progress=progress,
        wait=True,
        wait_timeout=600,
        poll_interval=2.0,
        on_poll=show_indexed,
        ledger=FanoutLedger(),
        reconcile=True,
        reconcile_settle=60,
        reconcile_timeout=120.0,
    )
    stream: AsyncIterator[PromoteOutcome] = client.pipelines.promote_iter(
        plan_entries(), concurrency=None, wait_timeout=None, reconcile=False
    )
    # A family can be built ahead and spread into any method that takes it.
    fanout: FanoutKeywords = {"fail_fast": True, "wait": True, "reconcile": True}
    reconciling: ReconcileKeywords = {"reconcile": True, "reconcile_timeout": 60}
    polling: WaitKeywords = {"options": WaitOptions(poll_factor=1.5), "on_poll": show}
    both: PromoteAndWaitKeywords = {**polling, **reconciling, "skip_current": True}
    more: list[PromoteOutcome] = await client.pipelines.promote_many(plan_entries(), **fanout)
    one: Deployment = await client.deployments.wait(
        SOURCE,
        TARGET,
        timeout=60,
        poll_interval=1,
        options=WaitOptions(budget_share=0.2),
        on_poll=show,
        max_poll_interval=10,
        poll_factor=2,
        poll_jitter=0.0,
    )
    many: list[Deployment] = await client.deployments.wait_all(
        promotions, timeout=None, concurrency=10, poll_interval=2, **polling
    )
    finished: list[Deployment] = await client.pipelines.promote_and_wait(
        PIPELINE,
        source_app_id=SOURCE,
        target_app_ids=[TARGET],
        timeout=600,
        concurrency=4,
        poll_interval=1.5,
        **both,
    )
    again: list[Deployment] = await client.pipelines.promote_and_wait_request(
        PromoteRequest(PIPELINE, SOURCE, [TARGET]), poll_jitter=0.2, reconcile=True
    )
    wave = [PromoteRequest(PIPELINE, SOURCE, [TARGET])]
    report = await client.releases.run([wave], wait_timeout=900, **reconciling)
    print(outcomes, stream, more, one, many, finished, again, report.completed)


async def keyword_options_misuse(client: SevallaClient, promotions: list[Promotion]) -> None:
    await client.pipelines.promote_many([], fail_fats=True)  # type: ignore[call-arg]
    client.pipelines.promote_iter([], wait_timout=60)  # type: ignore[call-arg]
    await client.pipelines.promote_many([], wait="yes")  # type: ignore[arg-type]
    await client.pipelines.promote_many([], timeout=60)  # type: ignore[call-arg]
    await client.deployments.wait(SOURCE, TARGET, poll_factr=2)  # type: ignore[call-arg]
    await client.deployments.wait(SOURCE, TARGET, reconcile=True)  # type: ignore[call-arg]
    await client.deployments.wait_all(promotions, poll_jitter="low")  # type: ignore[arg-type]
    await client.pipelines.promote_and_wait_request(
        PromoteRequest(PIPELINE, SOURCE, [TARGET]),
        reconcile_setle=5,  # type: ignore[call-arg]
    )
    await client.releases.run([], reconcile_timeout="soon")  # type: ignore[arg-type]
    bad: ReconcileKeywords = {"reconcile": True, "settle": 5}  # type: ignore[typeddict-unknown-key]
    print(bad)


async def client_misuse(client: SevallaClient, rows: list[dict[str, int]]) -> None:
    await client.pipelines.promote_many(rows)  # type: ignore[arg-type]
    await client.pipelines.promote_many([1, 2])  # type: ignore[list-item]
    await client.pipelines.promote(PIPELINE, SOURCE, [TARGET])  # type: ignore[call-arg]

    def wrong_hook(progress: int) -> None:
        print(progress)

    await client.pipelines.promote_many([], on_progress=wrong_hook)  # type: ignore[arg-type]
    await client.deployments.wait(SOURCE, TARGET, on_poll=wrong_hook)  # type: ignore[arg-type]
    outcomes = await client.pipelines.promote_many([])
    print(outcomes[0].request.pipeline_id)  # type: ignore[attr-defined]
    client.pipelines = None  # type: ignore[assignment]
    client.with_options(timeout="slow")  # type: ignore[arg-type]
    raw = await client.pipelines.with_raw_response.get(PIPELINE)
    count: int = raw.parse()  # type: ignore[assignment]
    print(count)

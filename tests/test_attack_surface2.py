"""Attacks on surfaces an earlier round did not reach: the reports and errors of a release
whose server sends hostile text (control characters, bidi overrides, the echoed key), the
checks of ``pipelines.resume`` on a record that does not fit, and paged reads that fail
partway."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sevalla_async import (
    APIResponseValidationError,
    Build,
    BuildChangedError,
    DeploymentProgress,
    InternalServerError,
    PromotionState,
    SevallaClient,
    TargetOutcome,
    Transport,
    TransportRequest,
    TransportResponse,
    WaveReport,
)
from sevalla_async.testing import FakeSevalla, Fault

from .helpers import canary_then_rest
from .secret_graph import assert_secret_unreachable

ANSI = "\x1b[2J\x1b]0;pwned\x07"
BIDI = "\u202e\u2066"


def hostile(key: str) -> str:
    return f"{ANSI}\r\nforged INFO all good {BIDI} token {key}\u2028end"


def shown(*objects: object) -> list[str]:
    return [show(o) for o in objects for show in (repr, str)]


async def test_a_failed_release_s_reports_hold_hostile_log_text_safely(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [entry] = fake.promote_requests(1, targets=2)
    bad = entry.target_app_ids[0]
    key = fake.api_key
    fake.fail_deployments(bad, hostile(key))
    text = hostile(key)

    def on_deployment(progress: DeploymentProgress) -> None:
        if progress.deployment.app_id == bad and not progress.deployment.is_finished:
            fake.set_logs(
                progress.deployment.id,
                [
                    {
                        "message": text,
                        "severity": "ERROR",
                        "service": text,
                        "tags": {text: text},
                        "attributes": {"a": text},
                    },
                ],
            )

    seen: list[WaveReport] = []

    def gate(report: WaveReport) -> bool:
        seen.append(report)
        return report.succeeded

    report = await client.releases.run(
        [[entry]], gate=gate, failure_logs=20, on_deployment=on_deployment
    )
    [wave] = report.waves
    [lines] = wave.failure_logs.values()
    assert any(e.tags for e in lines)  # the hostile entry was read
    assert all("token [redacted]" in e.message for e in lines)
    [outcome] = wave.outcomes
    objects = [report, wave, seen[0], outcome, *(outcome.targets or ()), *lines]
    for text_ in shown(*objects):
        assert key not in text_
        assert text_.isprintable(), text_[:400]
    assert assert_secret_unreachable(report, key) > 10


async def test_a_hostile_image_of_a_moved_source_is_escaped_in_the_reason_and_the_log(
    fake: FakeSevalla, client: SevallaClient, caplog: pytest.LogCaptureFixture
) -> None:
    waves = canary_then_rest(fake)
    source = waves[0][0].source_app_id
    image = f"registry.example/app:v2{ANSI}\r\nWARNING forged{BIDI}"

    def gate(report: WaveReport) -> bool:
        pushed = fake.deploy(source, script=["success"])  # a push lands on staging meanwhile
        pushed.build = Build(None, image)
        return report.succeeded

    caplog.set_level(logging.WARNING, logger="sevalla_async")
    report = await client.releases.run(waves, gate=gate)

    assert (report.completed, report.stopped_at) == (False, 1)
    assert report.stopped_reason is not None
    assert "v2\\x1b[2J" in report.stopped_reason
    assert report.stopped_reason.isprintable(), report.stopped_reason
    for record in caplog.records:
        assert record.getMessage().isprintable(), record.getMessage()


async def test_a_build_changed_error_on_a_hostile_image_is_printable(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    pushed = fake.deploy(entry.source_app_id, script=["success"])
    pushed.build = Build(None, f"registry.example/app:v3{BIDI}{ANSI}")
    with pytest.raises(BuildChangedError) as info:
        await client.pipelines.promote(
            entry.pipeline_id,
            source_app_id=entry.source_app_id,
            target_app_ids=entry.target_app_ids,
            expect_build="0" * 40,
        )
    assert fake.requests_to("POST", "/promote") == []
    assert info.value.actual == pushed.build  # the field keeps the server's text
    for text in shown(info.value, info.value.actual):
        assert text.isprintable(), text
    assert "v3\\u202e\\u2066\\x1b[2J" in str(info.value)


# --- pipelines.resume: a record that does not fit its request --------------------------------

SENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def resume_cases(a: uuid.UUID, b: uuid.UUID, other: uuid.UUID) -> dict[str, list[Any]]:
    unknown, promoted = PromotionState.UNKNOWN, PromotionState.PROMOTED
    return {
        "missing": [TargetOutcome(a, unknown, SENT)],
        "extra": [TargetOutcome(t, unknown, SENT) for t in (a, b, other)],
        "duplicated": [TargetOutcome(t, unknown, SENT) for t in (a, a)],
        "another request's": [TargetOutcome(t, unknown, SENT) for t in (a, other)],
        "rejected": [TargetOutcome(a, PromotionState.REJECTED), TargetOutcome(b, unknown, SENT)],
        "unknown without sent_at": [TargetOutcome(a, unknown), TargetOutcome(b, unknown, SENT)],
        "naive sent_at": [
            TargetOutcome(a, unknown, SENT.replace(tzinfo=None)),
            TargetOutcome(b, unknown, SENT),
        ],
        "sent_at not a datetime": [
            TargetOutcome(a, unknown, "2026-01-02"),
            TargetOutcome(b, unknown, SENT),
        ],
        "sent_at past the calendar": [
            TargetOutcome(
                a, unknown, datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))
            ),
            TargetOutcome(b, unknown, SENT),
        ],
        "promoted without a deployment": [
            TargetOutcome(a, promoted, SENT),
            TargetOutcome(b, unknown, SENT),
        ],
        "state not a PromotionState": [
            TargetOutcome(a, "unknown", SENT),
            TargetOutcome(b, unknown, SENT),
        ],
        "target id not a UUID": [
            TargetOutcome(str(a), unknown, SENT),
            TargetOutcome(b, unknown, SENT),
        ],
        "deployment id not a UUID": [
            TargetOutcome(a, promoted, SENT, str(b)),
            TargetOutcome(b, unknown, SENT),
        ],
        "not TargetOutcomes": [(a, "unknown"), (b, "unknown")],
    }


@pytest.mark.parametrize("case", list(resume_cases(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())))
async def test_resume_refuses_a_record_that_does_not_fit_before_any_io(
    fake: FakeSevalla, client: SevallaClient, case: str
) -> None:
    [request] = fake.promote_requests(1, targets=2)
    [other] = fake.promote_requests(1, targets=1)
    a, b = request.target_app_ids
    targets = resume_cases(a, b, other.target_app_ids[0])[case]
    with pytest.raises(ValueError, match=r"^targets") as info:
        await client.pipelines.resume(request, targets)
    assert fake.requests == [], info.value


# --- paged reads that fail partway ------------------------------------------------------------


class FaultOnSecondPage:
    """The API fails (``fault``) the second read of a deployment list, the first passes."""

    def __init__(self, inner: Transport, fake: FakeSevalla, fault: Fault) -> None:
        self._inner, self._fake, self._fault, self._reads = inner, fake, fault, 0

    async def send(self, request: TransportRequest) -> TransportResponse:
        if request.method == "GET" and request.url.split("?")[0].endswith("/deployments"):
            self._reads += 1
            if self._reads == 2:
                self._fake.inject(self._fault, path="/deployments")
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        (Fault.error(500, "page two is down"), InternalServerError),
        (Fault.malformed({"deployments": "nope"}), APIResponseValidationError),
    ],
    ids=["500", "malformed"],
)
async def test_current_build_failing_on_its_second_page_raises_not_half_a_result(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], fault: Fault, raised: type
) -> None:
    app = fake.add_app()
    for _ in range(12):  # newer than its one success: the first page of 10 has none
        fake.deploy(app, script=["failed"])
    client = make_client(transport=FaultOnSecondPage(fake.transport(), fake, fault), max_retries=0)
    with pytest.raises(raised):
        await client.deployments.current_build(app)
    assert len(fake.requests) == 2


async def test_logs_failing_raise_a_typed_error(fake: FakeSevalla, client: SevallaClient) -> None:
    [entry] = fake.promote_requests(1, targets=1)
    deployment = fake.deploy(entry.source_app_id, script=["failed"])
    fake.inject(Fault.malformed([{"id": 1}]), path="/logs")
    with pytest.raises(APIResponseValidationError):
        await client.deployments.logs(entry.source_app_id, deployment.id)

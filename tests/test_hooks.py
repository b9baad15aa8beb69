"""Event hooks: one request and one response event per attempt, for metrics and tracing;
fed here to the real prometheus_client and opentelemetry-sdk."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sevalla_async import (
    APIConnectionError,
    InternalServerError,
    RateLimitError,
    RequestEvent,
    ResponseEvent,
    SevallaClient,
)
from sevalla_async.testing import FakeClock, FakeSevalla, Fault


async def test_one_pair_of_events_per_attempt(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    seen: list[RequestEvent | ResponseEvent] = []

    async def on_response(event: ResponseEvent) -> None:  # async hooks are awaited
        await asyncio.sleep(0)
        seen.append(event)

    client = make_client(event_hooks={"request": [seen.append], "response": [on_response]})
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.rate_limited(retry_after=2))
    await client.pipelines.promote_request(request)
    first, second = fake.requests
    path = f"/pipelines/{request.pipeline_id}/promote"
    template = "/pipelines/{id}/promote"
    req1, resp1, req2, resp2 = seen
    assert isinstance(req1, RequestEvent)
    assert (req1.method, req1.path, req1.path_template, req1.attempt) == (
        "POST",
        path,
        template,
        1,
    )
    assert isinstance(resp1, ResponseEvent)
    assert (resp1.status_code, resp1.request_id, resp1.attempt) == (429, first.request_id, 1)
    assert isinstance(resp1.error, RateLimitError)
    assert isinstance(req2, RequestEvent)
    assert req2.attempt == 2
    assert req2.started_at - req1.started_at == pytest.approx(2)  # the Retry-After
    assert isinstance(resp2, ResponseEvent)
    assert (resp2.status_code, resp2.request_id, resp2.attempt) == (200, second.request_id, 2)
    assert resp2.error is None


async def test_duration_is_on_the_clients_clock(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient], clock: FakeClock
) -> None:
    events: list[ResponseEvent] = []
    client = make_client(event_hooks={"response": [events.append]})
    app = fake.add_app()
    made = fake.add_deployment(app, script=["success"])
    fake.inject(Fault(delay=2.5), method="GET")
    await client.deployments.get(app, made.id)
    (event,) = events
    assert event.duration == pytest.approx(2.5)
    assert event.path_template == "/applications/{id}/deployments/{id}"


async def test_no_reply_gives_no_status_and_the_error(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    events: list[ResponseEvent] = []
    client = make_client(max_retries=1, event_hooks={"response": [events.append]})
    pipeline = fake.add_pipeline()
    fake.inject(Fault(drop="before"), method="GET")
    fake.inject(Fault.error(503), method="GET")
    with pytest.raises(InternalServerError):
        await client.pipelines.get(pipeline.id)
    dropped, failed = events
    assert dropped.status_code is None
    assert dropped.request_id is None
    assert isinstance(dropped.error, APIConnectionError)
    assert failed.status_code == 503
    assert isinstance(failed.error, InternalServerError)
    assert failed.attempt == 2


async def test_a_raising_hook_is_logged_and_the_call_goes_on(
    fake: FakeSevalla,
    make_client: Callable[..., SevallaClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(event: object) -> None:
        raise ZeroDivisionError("exporter down")

    async def broken_async(event: object) -> None:
        raise KeyError("tracer")

    client = make_client(event_hooks={"request": [broken], "response": [broken_async]})
    requests = fake.promote_requests(3)
    with caplog.at_level(logging.WARNING, logger="sevalla_async"):
        for request in requests:  # the budget is released every time: no hold, no hang
            promotions = await client.pipelines.promote_request(request)
            assert len(promotions) == len(request.target_app_ids)
    assert len(fake.requests) == 3
    hooks = [r for r in caplog.records if "event hook" in r.getMessage()]
    assert len(hooks) == 6
    assert "broken" in hooks[0].getMessage()
    assert "/pipelines/{id}/promote" in hooks[0].getMessage()
    assert hooks[0].exc_info is not None


async def test_cancellation_in_a_hook_is_not_swallowed(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    calls: list[RequestEvent] = []

    async def cancel_the_first(event: RequestEvent) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise asyncio.CancelledError

    client = make_client(event_hooks={"request": [cancel_the_first]})
    pipeline = fake.add_pipeline()
    with pytest.raises(asyncio.CancelledError):
        await client.pipelines.get(pipeline.id)
    assert fake.requests == []
    # The budget unit of the cancelled attempt was given back: had it stayed taken, the
    # next read would wait (slow start) for a reply that never comes.
    got = await asyncio.wait_for(client.pipelines.get(pipeline.id), 30)
    assert got.id == pipeline.id


@pytest.mark.parametrize(
    "hooks",
    [
        {"reqest": []},
        {"request": print},
        {"response": ["not callable"]},
        [("request", [])],
    ],
)
def test_bad_hooks_are_refused(hooks: object) -> None:
    with pytest.raises(ValueError, match="event_hooks"):
        SevallaClient("key", event_hooks=hooks)  # type: ignore[arg-type]


async def test_hooks_are_shared_by_derived_clients(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    events: list[ResponseEvent] = []
    client = make_client(event_hooks={"response": [events.append]})
    pipeline = fake.add_pipeline()
    await client.with_options(timeout=5).pipelines.get(pipeline.id)
    assert [e.status_code for e in events] == [200]


async def test_prometheus_metrics_from_hooks(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    registry = CollectorRegistry()
    requests_total = Counter(
        "sevalla_requests_total",
        "API attempts",
        ["method", "path", "status"],
        registry=registry,
    )
    latency = Histogram(
        "sevalla_request_seconds", "Attempt latency", ["method", "path"], registry=registry
    )
    in_flight = Gauge("sevalla_requests_in_flight", "Attempts on the wire", registry=registry)

    def on_request(event: RequestEvent) -> None:
        in_flight.inc()

    def on_response(event: ResponseEvent) -> None:
        in_flight.dec()
        status = str(event.status_code) if event.status_code is not None else "error"
        requests_total.labels(event.method, event.path_template, status).inc()
        latency.labels(event.method, event.path_template).observe(event.duration)

    client = make_client(event_hooks={"request": [on_request], "response": [on_response]})
    requests = fake.promote_requests(3)
    fake.inject(Fault.rate_limited(retry_after=1))
    fake.inject(Fault(delay=0.3), method="POST")
    for request in requests:
        await client.pipelines.promote_request(request)

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    promote = "/pipelines/{id}/promote"
    assert sample("sevalla_requests_total", method="POST", path=promote, status="200") == 3
    assert sample("sevalla_requests_total", method="POST", path=promote, status="429") == 1
    assert sample("sevalla_request_seconds_count", method="POST", path=promote) == 4
    assert sample("sevalla_request_seconds_sum", method="POST", path=promote) == pytest.approx(0.3)
    assert sample("sevalla_requests_in_flight") == 0


async def test_opentelemetry_spans_from_a_response_hook(
    fake: FakeSevalla, make_client: Callable[..., SevallaClient]
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("sevalla")

    def on_response(event: ResponseEvent) -> None:
        end = time.time_ns()
        span = tracer.start_span(
            f"{event.method} {event.path_template}",
            start_time=end - int(event.duration * 1e9),
            attributes={
                "http.request.method": event.method,
                "url.template": event.path_template,
                "sevalla.attempt": event.attempt,
            },
        )
        if event.status_code is not None:
            span.set_attribute("http.response.status_code", event.status_code)
        if event.request_id:
            span.set_attribute("sevalla.request_id", event.request_id)
        if event.error is not None:
            span.set_status(StatusCode.ERROR, str(event.error))
        span.end(end_time=end)

    client = make_client(event_hooks={"response": [on_response]})
    request = fake.promote_requests(1)[0]
    fake.inject(Fault.error(503), method="GET")
    with tracer.start_as_current_span("release"):
        pipeline = await client.pipelines.get(request.pipeline_id)
        await client.pipelines.promote_request(request)
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert names == [
        "GET /pipelines/{id}",
        "GET /pipelines/{id}",
        "POST /pipelines/{id}/promote",
        "release",
    ]
    failed, got, promoted, parent = spans
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["http.response.status_code"] == 503
    assert got.attributes is not None
    assert got.attributes["sevalla.attempt"] == 2
    assert promoted.attributes is not None
    assert promoted.attributes["sevalla.request_id"] == fake.requests[-1].request_id
    assert all(
        s.parent is not None and s.parent.span_id == parent.context.span_id for s in spans[:3]
    )
    assert pipeline.id == request.pipeline_id
    provider.shutdown()

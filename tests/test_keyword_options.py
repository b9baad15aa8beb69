"""Keyword options declared once (``FanoutKeywords``, ``WaitKeywords``,
``ReconcileKeywords``, ``PromoteAndWaitKeywords``): a misspelled or foreign keyword is the
``TypeError`` Python raises, before anything is sent, and every family's defaults are the
ones its docstring states."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from sevalla_async import (
    FanoutKeywords,
    PromoteAndWaitKeywords,
    ReconcileKeywords,
    SevallaClient,
    WaitKeywords,
    WaitOptions,
)
from sevalla_async._options import DEFAULTS, FanoutSettings, ReconcileSettings, WaitSettings
from sevalla_async.testing import FakeSevalla

Call = Callable[[SevallaClient, FakeSevalla, dict[str, Any]], Awaitable[object]]


async def _promote_many(client: SevallaClient, fake: FakeSevalla, kw: dict[str, Any]) -> object:
    return await client.pipelines.promote_many(fake.promote_requests(1), **kw)


async def _promote_iter(client: SevallaClient, fake: FakeSevalla, kw: dict[str, Any]) -> object:
    return client.pipelines.promote_iter(fake.promote_requests(1), **kw)  # raises at the call


async def _promote_and_wait(client: SevallaClient, fake: FakeSevalla, kw: dict[str, Any]) -> object:
    request = fake.promote_requests(1)[0]
    return await client.pipelines.promote_and_wait(
        request.pipeline_id,
        source_app_id=request.source_app_id,
        target_app_ids=request.target_app_ids,
        **kw,
    )


async def _promote_and_wait_request(
    client: SevallaClient, fake: FakeSevalla, kw: dict[str, Any]
) -> object:
    return await client.pipelines.promote_and_wait_request(fake.promote_requests(1)[0], **kw)


async def _wait(client: SevallaClient, fake: FakeSevalla, kw: dict[str, Any]) -> object:
    app = fake.add_app(deployed=False)
    return await client.deployments.wait(app, fake.add_deployment(app).id, **kw)


async def _wait_all(client: SevallaClient, fake: FakeSevalla, kw: dict[str, Any]) -> object:
    app = fake.add_app(deployed=False)
    return await client.deployments.wait_all([(app, fake.add_deployment(app).id)], **kw)


async def _release(client: SevallaClient, fake: FakeSevalla, kw: dict[str, Any]) -> object:
    return await client.releases.run([fake.promote_requests(1)], **kw)


# (method, its qualified name, a keyword of another family it must refuse too)
METHODS: list[tuple[Call, str, str]] = [
    (_promote_many, "Pipelines.promote_many", "timeout"),
    (_promote_iter, "Pipelines.promote_iter", "options"),
    (_promote_and_wait, "Pipelines.promote_and_wait", "wait_timeout"),
    (_promote_and_wait_request, "Pipelines.promote_and_wait_request", "ledger"),
    (_wait, "Deployments.wait", "reconcile"),
    (_wait, "Deployments.wait", "concurrency"),
    (_wait_all, "Deployments.wait_all", "reconcile_settle"),
    (_release, "Releases.run", "wait"),
]


@pytest.mark.parametrize(("call", "qualname", "foreign"), METHODS, ids=[m[1] for m in METHODS])
async def test_an_unknown_keyword_is_a_type_error_before_anything_is_sent(
    fake: FakeSevalla, client: SevallaClient, call: Call, qualname: str, foreign: str
) -> None:
    for name in ("fail_fats", foreign):
        with pytest.raises(TypeError) as info:
            await call(client, fake, {name: True})
        assert str(info.value) == f"{qualname}() got an unexpected keyword argument {name!r}"
    assert fake.requests == []


def test_the_message_is_the_one_python_gives() -> None:
    class Pipelines:
        def promote_many(self, requests: object, *, concurrency: int | None = None) -> None:
            del requests, concurrency

    with pytest.raises(TypeError) as python:
        Pipelines().promote_many([], fail_fats=True)  # type: ignore[call-arg]
    expected = str(python.value).replace("test_the_message_is_the_one_python_gives.<locals>.", "")
    assert expected == "Pipelines.promote_many() got an unexpected keyword argument 'fail_fats'"


async def test_every_fanout_keyword_is_accepted_in_any_order(
    fake: FakeSevalla, client: SevallaClient
) -> None:
    fake.script_deployments(["success"])
    requests = fake.promote_requests(2, targets=1)
    outcomes = await client.pipelines.promote_many(
        requests,
        reconcile_timeout=10,
        ledger=None,
        on_poll=None,
        poll_interval=2,
        wait_timeout=60,
        wait=True,
        on_progress=None,
        fail_fast=True,
        reconcile=True,
        reconcile_settle=5,
        concurrency=1,
    )
    assert [o.succeeded for o in outcomes] == [True, True]


# --- the documented defaults ------------------------------------------------------------


def _documented_defaults(family: Any) -> dict[str, Any]:
    """``{keyword: default}`` from the ``(default X)`` of each entry of ``Attributes:``."""
    doc = family.__doc__ or ""
    entries = re.split(r"\n\s{8}(?=\w+: )", doc.split("Attributes:")[1])[1:]
    found: dict[str, Any] = {}
    for entry in entries:
        name, text = entry.split(":", 1)
        match = re.search(r"default (?:``([^`]+)``|([^);:]+))", " ".join(text.split()))
        if match is None:
            continue
        value = (match.group(1) or match.group(2)).strip()
        found[name] = WaitOptions() if value == "WaitOptions()" else ast.literal_eval(value)
    return found


def _keys(family: Any) -> set[str]:
    return set(family.__optional_keys__ | family.__required_keys__)


def _owner() -> None:
    """Stands for the method given the keywords."""


def test_fanout_defaults_are_the_documented_ones() -> None:
    settings = FanoutSettings.of(_owner, {})
    actual = {
        "fail_fast": settings.fail_fast,
        "on_progress": settings.on_progress,
        "wait": settings.wait,
        "wait_timeout": settings.plan.timeout,
        "poll_interval": settings.plan.poll_interval,
        "on_poll": settings.on_poll,
        "ledger": settings.ledger,
        "skip_current": settings.reconcile.skip_current,
    }
    own = _keys(FanoutKeywords) - _keys(ReconcileKeywords)
    assert set(actual) == own
    assert _documented_defaults(FanoutKeywords) == actual
    assert settings.reconcile == ReconcileSettings.build({})
    assert settings.reconcile.skip_current is False


def test_reconcile_defaults_are_the_documented_ones() -> None:
    settings = ReconcileSettings.of(_owner, {})
    actual = {
        "reconcile": settings.reconcile,
        "reconcile_settle": settings.settle,
        "reconcile_timeout": settings.timeout,
    }
    assert set(actual) == _keys(ReconcileKeywords)
    assert _documented_defaults(ReconcileKeywords) == actual


def test_wait_defaults_are_the_documented_ones() -> None:
    settings = WaitSettings.of(_owner, {}, timeout=None, poll_interval=1)
    assert _documented_defaults(WaitKeywords) == {"options": settings.plan.options, "on_poll": None}
    assert settings.on_poll is None
    # the shortcuts have no default of their own: without them, ``options`` decides
    assert _keys(WaitKeywords) == {
        "options",
        "on_poll",
        "max_poll_interval",
        "poll_factor",
        "poll_jitter",
    }
    assert _keys(PromoteAndWaitKeywords) == _keys(WaitKeywords) | _keys(ReconcileKeywords) | {
        "skip_current"
    }


def test_every_keyword_is_documented_in_its_family() -> None:
    for family in (FanoutKeywords, WaitKeywords, ReconcileKeywords):
        doc = family.__doc__ or ""
        own = _keys(family) - (_keys(ReconcileKeywords) if family is FanoutKeywords else set())
        for name in own:
            assert re.search(rf"\n\s+{name}: ", doc), f"{family.__name__}.{name}"


@pytest.mark.parametrize(
    ("keywords", "field"),
    [
        ({"fail_fast": "yes"}, "fail_fast"),
        ({"wait": 1}, "wait"),
        ({"on_progress": 3}, "on_progress"),
        ({"on_poll": "print"}, "on_poll"),
        ({"ledger": []}, "ledger"),
        ({"wait_timeout": 0}, "timeout"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"reconcile": "yes"}, "reconcile"),
        ({"reconcile_settle": -1}, "reconcile_settle"),
        ({"reconcile_timeout": "soon"}, "reconcile_timeout"),
    ],
)
async def test_every_fanout_value_is_checked_before_anything_is_sent(
    fake: FakeSevalla, client: SevallaClient, keywords: dict[str, Any], field: str
) -> None:
    """Checked with or without ``wait`` (a wait option given without it is not ignored
    when it is wrong)."""
    with pytest.raises(ValueError, match=f"^(wait_)?{field}:"):
        await client.pipelines.promote_many(fake.promote_requests(1), **keywords)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("keywords", "field"),
    [
        ({"on_poll": 5}, "on_poll"),
        ({"options": {"poll_factor": 2}}, "options"),
        ({"reconcile": 1}, "reconcile"),
        ({"reconcile_timeout": -1}, "reconcile_timeout"),
    ],
)
async def test_every_promote_and_wait_value_is_checked_before_anything_is_sent(
    fake: FakeSevalla, client: SevallaClient, keywords: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        await _promote_and_wait(client, fake, keywords)
    assert fake.requests == []


async def test_on_poll_of_a_wait_must_be_callable(fake: FakeSevalla, client: SevallaClient) -> None:
    with pytest.raises(ValueError, match=r"^on_poll:"):
        await _wait(client, fake, {"on_poll": "print"})
    assert fake.requests == []


# --- what help() and inspect.signature show ----------------------------------------------

SIGNATURES = [
    ("pipelines", "promote_many", FanoutKeywords, {"concurrency": None}),
    ("pipelines", "promote_iter", FanoutKeywords, {"concurrency": None}),
    (
        "pipelines",
        "promote_and_wait",
        PromoteAndWaitKeywords,
        {"timeout": 900, "concurrency": 50, "poll_interval": 1},
    ),
    (
        "pipelines",
        "promote_and_wait_request",
        PromoteAndWaitKeywords,
        {"timeout": 900, "concurrency": 50, "poll_interval": 1},
    ),
    ("deployments", "wait", WaitKeywords, {"timeout": 900, "poll_interval": 1}),
    (
        "deployments",
        "wait_all",
        WaitKeywords,
        {"timeout": 900, "concurrency": 50, "poll_interval": 1},
    ),
    (
        "releases",
        "run",
        ReconcileKeywords,
        # a release promotes only what is behind, and pins its builds, by default
        {"concurrency": None, "wait_timeout": 900, "skip_current": True, "pin_build": True},
    ),
]


@pytest.mark.parametrize(
    ("resource", "method", "family", "explicit"), SIGNATURES, ids=[s[1] for s in SIGNATURES]
)
def test_the_runtime_signature_shows_every_keyword_with_its_default(
    client: SevallaClient, resource: str, method: str, family: Any, explicit: dict[str, Any]
) -> None:
    signature = inspect.signature(getattr(getattr(client, resource), method))
    params = signature.parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name, default in explicit.items():  # declared in the method itself
        assert params[name].default == default, name
    for name in _keys(family):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[name].default == DEFAULTS[name], name
    documented = {
        **_documented_defaults(ReconcileKeywords),
        **_documented_defaults(FanoutKeywords),
    }
    for name, value in documented.items():
        if name in params and name not in explicit:
            assert params[name].default == value, name

"""Keyword options, declared once per family.

Each family of keyword options that several methods accept is declared here once, as a
``TypedDict`` the methods take as ``**keywords: Unpack[...]`` (what type checkers, IDEs and
the API reference show), and turned into a private settings object by one builder that
applies the defaults and checks every value (``ValueError`` naming the keyword) before
anything is sent. A keyword the family does not declare raises the ``TypeError`` Python
itself raises for one (``Pipelines.promote_many() got an unexpected keyword argument
'fail_fats'``): a typo is never silently ignored.

- :class:`ReconcileKeywords` (settling an ``unknown`` promotion) -> :class:`ReconcileSettings`;
- :class:`WaitKeywords` (how a wait polls, besides ``timeout`` and ``poll_interval``),
  :class:`PromoteAndWaitKeywords` (both) -> :class:`WaitSettings`;
- :class:`FanoutKeywords` (``promote_many`` / ``promote_iter``) -> :class:`FanoutSettings`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypedDict

import attrs

from ._fanout import FanoutLedger, ProgressHook
from ._models import Deployment
from ._reconcile import DEFAULT_RECONCILE_TIMEOUT, DEFAULT_SETTLE, check_reconcile_options
from ._wait import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_CONCURRENCY,
    OnPoll,
    WaitOptions,
    WaitPlan,
)

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Unpack

__all__ = [
    "FanoutKeywords",
    "FanoutSettings",
    "OnIndexedPoll",
    "PromoteAndWaitKeywords",
    "ReconcileKeywords",
    "ReconcileSettings",
    "Unpack",
    "WaitKeywords",
    "WaitSettings",
    "check_keywords",
]


class OnIndexedPoll(Protocol):
    """The ``on_poll`` hook of a waiting fan-out (``wait=True``): called with the input
    position of the request and a polled deployment; its return value is ignored. Any
    callable taking ``(index, deployment)`` fits."""

    def __call__(self, index: int, deployment: Deployment, /) -> object: ...


class ReconcileKeywords(TypedDict, total=False):
    """The keyword options that settle an ``unknown`` promotion instead of raising it (see
    :meth:`Pipelines.promote`, whose own keywords they are).

    Attributes:
        reconcile: settle an ``unknown`` outcome by reading the targets' deployment
            histories, then promote again only the targets verified not promoted
            (default ``False``: raise it).
        reconcile_settle: seconds after the request was sent before a target may be called
            not promoted (default 120).
        reconcile_timeout: seconds to keep looking before raising
            :class:`PromotionUnresolvedError` (default 300).
    """

    reconcile: bool
    reconcile_settle: float
    reconcile_timeout: float


class WaitKeywords(TypedDict, total=False):
    """The keyword options of a wait besides ``timeout`` and ``poll_interval``
    (:meth:`Deployments.wait`, :meth:`Deployments.wait_all`,
    :meth:`Pipelines.promote_and_wait`).

    Attributes:
        options: the polling options, a :class:`WaitOptions` (default ``WaitOptions()``).
        on_poll: called with every deployment a poll returns, e.g. to print progress
            (default ``None``).
        max_poll_interval: overrides ``options.max_poll_interval``.
        poll_factor: overrides ``options.poll_factor``.
        poll_jitter: overrides ``options.poll_jitter``.
    """

    options: WaitOptions | None
    on_poll: OnPoll | None
    max_poll_interval: float | None
    poll_factor: float | None
    poll_jitter: float | None


class PromoteAndWaitKeywords(WaitKeywords, ReconcileKeywords, total=False):
    """The keyword options of :meth:`Pipelines.promote_and_wait`: those of a wait
    (:class:`WaitKeywords`) and those of reconciliation (:class:`ReconcileKeywords`)."""


class FanoutKeywords(ReconcileKeywords, total=False):
    """The keyword options of :meth:`Pipelines.promote_many` and
    :meth:`Pipelines.promote_iter` besides ``concurrency``, with those of
    :class:`ReconcileKeywords` (applied to each entry).

    Attributes:
        fail_fast: stop sending at the first failure; every later input gets a
            ``skipped`` outcome (default ``False``).
        on_progress: called with a :class:`FanoutProgress` after every outcome
            (default ``None``).
        wait: make each unit of work "promote, then wait for the deployments"
            (default ``False``).
        wait_timeout: with ``wait``, seconds each entry may take from its turn, its
            promotion included (default 900; ``None``: no limit).
        poll_interval: with ``wait``, the shortest time between two polls of one
            deployment, seconds (default 1).
        on_poll: with ``wait``, called as ``on_poll(index, deployment)`` with the input
            position and each deployment a poll returns (default ``None``).
        ledger: a :class:`FanoutLedger` that keeps an outcome for every entry read, on
            every exit path (default ``None``).
    """

    fail_fast: bool
    on_progress: ProgressHook | None
    wait: bool
    wait_timeout: float | None
    poll_interval: float
    on_poll: OnIndexedPoll | None
    ledger: FanoutLedger | None


def check_keywords(
    function: Callable[..., object], given: Mapping[str, Any], declared: Any
) -> None:
    """Raise the ``TypeError`` Python raises for a keyword ``function`` does not take:
    ``given`` may hold only the keys of the ``TypedDict`` ``declared``."""
    known: frozenset[str] = declared.__required_keys__ | declared.__optional_keys__
    for name in given:
        if name not in known:
            raise TypeError(
                f"{function.__qualname__}() got an unexpected keyword argument {name!r}"
            )


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return value


def _check_hook(name: str, value: Any, takes: str) -> Any:
    if value is not None and not callable(value):
        raise ValueError(f"{name}: expected a callable taking {takes}")
    return value


@attrs.frozen
class ReconcileSettings:
    """Checked :class:`ReconcileKeywords`, defaults applied."""

    reconcile: bool = False
    settle: float = DEFAULT_SETTLE
    timeout: float = DEFAULT_RECONCILE_TIMEOUT

    @classmethod
    def build(cls, keywords: Mapping[str, Any]) -> ReconcileSettings:
        """The reconcile keywords of ``keywords`` (others are ignored), checked."""
        reconcile = _check_bool("reconcile", keywords.get("reconcile", False))
        settle = keywords.get("reconcile_settle", DEFAULT_SETTLE)
        timeout = keywords.get("reconcile_timeout", DEFAULT_RECONCILE_TIMEOUT)
        check_reconcile_options(settle, timeout)
        return cls(reconcile, settle, timeout)

    @classmethod
    def of(cls, function: Callable[..., object], keywords: Mapping[str, Any]) -> ReconcileSettings:
        """Checked :class:`ReconcileKeywords` given to ``function``; any other keyword is a
        ``TypeError``."""
        check_keywords(function, keywords, ReconcileKeywords)
        return cls.build(keywords)


@attrs.frozen
class WaitSettings:
    """Checked options of a wait (:class:`WaitKeywords`, or
    :class:`PromoteAndWaitKeywords`), defaults applied."""

    plan: WaitPlan
    on_poll: OnPoll | None
    reconcile: ReconcileSettings

    @classmethod
    def of(
        cls,
        function: Callable[..., object],
        keywords: Mapping[str, Any],
        declared: Any = WaitKeywords,
        *,
        timeout: float | None,
        poll_interval: float,
        concurrency: int = DEFAULT_WAIT_CONCURRENCY,
    ) -> WaitSettings:
        """The options ``function`` was given: its ``timeout``, ``poll_interval`` and
        ``concurrency``, and ``keywords``, which may hold the keys of ``declared``
        (:class:`WaitKeywords`, or :class:`PromoteAndWaitKeywords`); any other keyword is
        a ``TypeError``."""
        check_keywords(function, keywords, declared)
        plan = WaitPlan.check(
            timeout=timeout,
            poll_interval=poll_interval,
            options=keywords.get("options"),
            concurrency=concurrency,
            max_poll_interval=keywords.get("max_poll_interval"),
            poll_factor=keywords.get("poll_factor"),
            poll_jitter=keywords.get("poll_jitter"),
        )
        on_poll = _check_hook("on_poll", keywords.get("on_poll"), "a Deployment")
        return cls(plan, on_poll, ReconcileSettings.build(keywords))


@attrs.frozen
class FanoutSettings:
    """Checked :class:`FanoutKeywords`, defaults applied (``concurrency`` is resolved
    against the connection pool by the fan-out)."""

    fail_fast: bool
    on_progress: ProgressHook | None
    wait: bool
    plan: WaitPlan
    on_poll: OnIndexedPoll | None
    ledger: FanoutLedger | None
    reconcile: ReconcileSettings

    @classmethod
    def of(cls, function: Callable[..., object], keywords: Mapping[str, Any]) -> FanoutSettings:
        """The :class:`FanoutKeywords` given to ``function``, checked; any other keyword is
        a ``TypeError``."""
        check_keywords(function, keywords, FanoutKeywords)
        ledger = keywords.get("ledger")
        if ledger is not None and not isinstance(ledger, FanoutLedger):
            raise ValueError("ledger: expected a FanoutLedger")
        return cls(
            fail_fast=_check_bool("fail_fast", keywords.get("fail_fast", False)),
            on_progress=_check_hook("on_progress", keywords.get("on_progress"), "a FanoutProgress"),
            wait=_check_bool("wait", keywords.get("wait", False)),
            plan=WaitPlan.check(
                timeout=keywords.get("wait_timeout", DEFAULT_TIMEOUT),
                poll_interval=keywords.get("poll_interval", DEFAULT_POLL_INTERVAL),
            ),
            on_poll=_check_hook("on_poll", keywords.get("on_poll"), "(index, deployment)"),
            ledger=ledger,
            reconcile=ReconcileSettings.build(keywords),
        )

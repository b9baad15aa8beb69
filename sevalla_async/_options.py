"""Keyword options, declared once per family.

Each family of keyword options that several methods accept is declared here once, as a
``TypedDict`` the methods take as ``**keywords: Unpack[...]`` (what type checkers, IDEs and
the API reference show), and turned into a private settings object by one builder that
applies the defaults and checks every value (``ValueError`` naming the keyword) before
anything is sent. A keyword the family does not declare raises the ``TypeError`` Python
itself raises for one (``Pipelines.promote_many() got an unexpected keyword argument
'fail_fats'``): a typo is never silently ignored. Every default is in :data:`DEFAULTS`,
and :func:`takes` shows each keyword with it in the method's runtime signature
(``help()``, ``inspect.signature``).

- :class:`ReconcileKeywords` (settling an ``unknown`` promotion) -> :class:`ReconcileSettings`;
- :class:`WaitKeywords` (how a wait polls, besides ``timeout`` and ``poll_interval``),
  :class:`PromoteAndWaitKeywords` (both) -> :class:`WaitSettings`;
- :class:`FanoutKeywords` (``promote_many`` / ``promote_iter``) -> :class:`FanoutSettings`.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypedDict, TypeVar

import attrs

from ._fanout import FanoutLedger, ProgressHook
from ._models import Deployment
from ._reconcile import DEFAULT_RECONCILE_TIMEOUT, DEFAULT_SETTLE, check_reconcile_options
from ._wait import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_CONCURRENCY,
    OnPoll,
    PollSettings,
    WaitOptions,
)

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import Unpack

__all__ = [
    "DEFAULTS",
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
    "takes",
]

F = TypeVar("F", bound=Callable[..., Any])


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
    (:class:`WaitKeywords`), those of reconciliation (:class:`ReconcileKeywords`), and:

    Attributes:
        skip_current: send only to the targets that do not already run the source's
            current build, as :meth:`Pipelines.promote` (default ``False``).
    """

    skip_current: bool


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
        skip_current: send each entry only to its targets that do not already run its
            source's current build, as :meth:`Pipelines.promote` (default ``False``).
    """

    fail_fast: bool
    on_progress: ProgressHook | None
    wait: bool
    wait_timeout: float | None
    poll_interval: float
    on_poll: OnIndexedPoll | None
    ledger: FanoutLedger | None
    skip_current: bool


DEFAULTS: Mapping[str, Any] = {
    # ReconcileKeywords
    "reconcile": False,
    "reconcile_settle": DEFAULT_SETTLE,
    "reconcile_timeout": DEFAULT_RECONCILE_TIMEOUT,
    # WaitKeywords (None: ``WaitOptions()``, or the field of ``options``)
    "options": None,
    "max_poll_interval": None,
    "poll_factor": None,
    "poll_jitter": None,
    # FanoutKeywords
    "fail_fast": False,
    "on_progress": None,
    "wait": False,
    "wait_timeout": DEFAULT_TIMEOUT,
    "poll_interval": DEFAULT_POLL_INTERVAL,
    "ledger": None,
    # both
    "on_poll": None,
    "skip_current": False,
}
"""The default of every keyword option: the builders below and the signatures of
:func:`takes` read it, the families' docstrings state it (a test holds them together)."""


def _get(keywords: Mapping[str, Any], name: str) -> Any:
    return keywords.get(name, DEFAULTS[name])


def takes(declared: Any) -> Callable[[F], F]:
    """Show the keywords of the ``TypedDict`` ``declared``, with their defaults, in the
    runtime signature of the decorated function (``help()``, ``inspect.signature``) in
    place of its ``**keywords``; type checkers read the ``Unpack`` annotation itself."""

    def apply(function: F) -> F:
        signature = inspect.signature(function)
        kept = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        added = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=DEFAULTS[name],
                annotation=getattr(annotation, "__forward_arg__", annotation),
            )
            for name, annotation in declared.__annotations__.items()
        ]
        function.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*kept, *added]
        )
        return function

    return apply


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


def _bool(keywords: Mapping[str, Any], name: str) -> bool:
    value = _get(keywords, name)
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return value


def _hook(keywords: Mapping[str, Any], name: str, takes: str) -> Any:
    value = _get(keywords, name)
    if value is not None and not callable(value):
        raise ValueError(f"{name}: expected a callable taking {takes}")
    return value


@attrs.frozen
class ReconcileSettings:
    """Checked :class:`ReconcileKeywords`, defaults applied."""

    reconcile: bool
    settle: float
    timeout: float
    skip_current: bool = False

    @classmethod
    def build(cls, keywords: Mapping[str, Any]) -> ReconcileSettings:
        """The reconcile keywords of ``keywords`` (others are ignored), checked."""
        reconcile = _bool(keywords, "reconcile")
        settle = _get(keywords, "reconcile_settle")
        timeout = _get(keywords, "reconcile_timeout")
        check_reconcile_options(settle, timeout)
        skip = _bool(keywords, "skip_current")
        return cls(reconcile, settle, timeout, skip)

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

    plan: PollSettings
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
        plan = PollSettings.check(
            timeout=timeout,
            poll_interval=poll_interval,
            options=_get(keywords, "options"),
            concurrency=concurrency,
            max_poll_interval=_get(keywords, "max_poll_interval"),
            poll_factor=_get(keywords, "poll_factor"),
            poll_jitter=_get(keywords, "poll_jitter"),
        )
        on_poll = _hook(keywords, "on_poll", "a Deployment")
        return cls(plan, on_poll, ReconcileSettings.build(keywords))


@attrs.frozen
class FanoutSettings:
    """Checked :class:`FanoutKeywords`, defaults applied (``concurrency`` is resolved
    against the connection pool by the fan-out)."""

    fail_fast: bool
    on_progress: ProgressHook | None
    wait: bool
    plan: PollSettings
    on_poll: OnIndexedPoll | None
    ledger: FanoutLedger | None
    reconcile: ReconcileSettings

    @classmethod
    def of(cls, function: Callable[..., object], keywords: Mapping[str, Any]) -> FanoutSettings:
        """The :class:`FanoutKeywords` given to ``function``, checked; any other keyword is
        a ``TypeError``."""
        check_keywords(function, keywords, FanoutKeywords)
        return cls.build(keywords)

    @classmethod
    def build(cls, keywords: Mapping[str, Any]) -> FanoutSettings:
        """The :class:`FanoutKeywords` of ``keywords`` (others are ignored), checked."""
        ledger = _get(keywords, "ledger")
        if ledger is not None and not isinstance(ledger, FanoutLedger):
            raise ValueError("ledger: expected a FanoutLedger")
        return cls(
            fail_fast=_bool(keywords, "fail_fast"),
            on_progress=_hook(keywords, "on_progress", "a FanoutProgress"),
            wait=_bool(keywords, "wait"),
            plan=PollSettings.check(
                timeout=_get(keywords, "wait_timeout"),
                poll_interval=_get(keywords, "poll_interval"),
            ),
            on_poll=_hook(keywords, "on_poll", "(index, deployment)"),
            ledger=ledger,
            reconcile=ReconcileSettings.build(keywords),
        )

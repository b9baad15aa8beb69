"""Waiting for deployments to finish: the schedule, the pacer, the loops, promote-then-wait.

Everything about waiting lives here; the resources' wait methods and the CLI only call in.

- :class:`WaitOptions` and :class:`PollSettings` (pure, in ``_wait_settings``): how one
  wait polls; checked once, at the public edge (``ValueError`` naming the field).
- :class:`PollPacer` (in ``_pacer``): the polls of every wait of one client together spend at most
  ``budget_share`` (default half) of the read budget, learned from the API's
  ``x-ratelimit-limit`` (400 a minute until a reply tells), spread evenly over the waits
  active at that moment: with ``n`` waits and ``R`` polls a minute, one deployment is polled
  every ``max(poll_interval, 60 * n / R)`` seconds. So a handful of waits poll every second
  (a finished deployment is seen about a second later), and a thousand share the budget
  (each every 5 minutes at 200 a minute). The pacer also spaces poll starts ``60 / R``
  seconds apart, so a burst of waits starting together stays within the share.
- :class:`Waiter` (here): the loops (one deployment, many on the bounded-work engine,
  promote-then-wait), each poll a GET through the core's one request loop (so a transient
  fault is retried by the client's retry policy) ending by the wait's deadline. Time and
  sleep come from the core.

The waiting code knows the client only through :class:`WaitCore`, a small protocol.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from . import _protocol
from ._engine import Engine
from ._errors import APITimeoutError, SevallaError
from ._ids import to_uuid
from ._models import Deployment, PromoteRequest, Promotion
from ._pacer import ASSUMED_READ_LIMIT, PollPacer, ReadBudget
from ._result_errors import WaitAllError
from ._wait_settings import (
    DEFAULT_BUDGET_SHARE,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_CONCURRENCY,
    PollSettings,
    WaitOptions,
    check_timeout,
)

__all__ = [
    "ASSUMED_READ_LIMIT",
    "DEFAULT_BUDGET_SHARE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_CONCURRENCY",
    "OnPoll",
    "PollPacer",
    "PollSettings",
    "ReadBudget",
    "WaitCore",
    "WaitOptions",
    "Waiter",
    "as_promotions",
    "check_timeout",
    "in_target_order",
]

T = TypeVar("T")


class OnPoll(Protocol):
    """The ``on_poll`` hook of a wait: called with every deployment a poll returns (for
    progress output); its return value is ignored. Any callable taking one deployment
    fits, e.g. ``lambda d: print(d.status)``."""

    def __call__(self, deployment: Deployment, /) -> object: ...


class WaitCore(Protocol):
    """The part of the client's core that waiting uses."""

    @property
    def base_url(self) -> str: ...

    @property
    def budget(self) -> ReadBudget: ...

    def clock(self) -> float:
        """Monotonic seconds."""
        ...

    def sleep(self, seconds: float) -> Awaitable[object]: ...

    @property
    def call_timeout(self) -> float | None:
        """Seconds the client allows one call (``None``: no limit)."""
        ...

    def deadline(self, timeout: float | None) -> float | None:
        """The time on the clock ``timeout`` seconds from now (``None``: no limit)."""
        ...

    async def request(
        self, req: _protocol.Request, into: type[T], *, deadline: float | None = None
    ) -> T: ...


def as_promotions(items: Iterable[Any]) -> list[Promotion]:
    """Validate what to wait for: :class:`Promotion` objects or ``(app_id, deployment_id)``
    pairs (UUIDs or strings). ``ValueError`` names the bad entry, e.g. ``promotions[2]``."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ValueError(
            f"promotions: expected a list of Promotion or (app_id, deployment_id) pairs, "
            f"got {type(items).__name__}"
        )
    out: list[Promotion] = []
    for index, item in enumerate(items):
        name = f"promotions[{index}]"
        if isinstance(item, Promotion):
            out.append(item)
            continue
        if isinstance(item, (str, bytes)) or not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(
                f"{name}: expected a Promotion or an (app_id, deployment_id) pair, got {item!r}"
            )
        out.append(
            Promotion(to_uuid(item[0], f"{name}.app_id"), to_uuid(item[1], f"{name}.deployment_id"))
        )
    return out


def in_target_order(
    promotions: list[Promotion], target_app_ids: Sequence[uuid.UUID]
) -> list[Promotion]:
    """The promotions in the order of the request's targets (the reply's order otherwise:
    entries for unknown targets go last, in the reply's order)."""
    position = {app: index for index, app in enumerate(target_app_ids)}
    return sorted(promotions, key=lambda p: position.get(p.target_app_id, len(position)))


def _last_status_text(deployment: Deployment | None) -> str:
    if deployment is None:
        return "no poll answered in time"
    return f"its last status was {deployment.status or 'null'}"


Promote = Callable[[PromoteRequest], Awaitable[list[Promotion]]]
"""Sends one promotion and returns what it started."""


class Waiter:
    """The waits of one client: every loop over one :class:`WaitCore` and one
    :class:`PollPacer`, so all of them share the read budget."""

    def __init__(self, core: WaitCore, rand: Callable[[], float] = random.random) -> None:
        self._core = core
        self._rand = rand
        budget = core.budget
        self.pacer: PollPacer = PollPacer(core.clock, core.sleep, lambda: budget.limit("read"))

    def bound_to(self, core: WaitCore) -> Waiter:
        """A waiter over ``core`` (a client's ``with_options`` copy, same budget) that
        shares this one's pacer: the waits of both clients share one poll budget."""
        waiter = Waiter(core, self._rand)
        waiter.pacer = self.pacer
        return waiter

    def deadline(self, plan: PollSettings) -> float | None:
        """The deadline of a wait with this plan, counted from now."""
        return self._core.deadline(plan.timeout)

    def _call_deadline(self, deadline: float | None) -> float | None:
        """The earlier of ``deadline`` and the client's own per call (``None``: no limit)."""
        own = self._core.deadline(self._core.call_timeout)
        return min((d for d in (own, deadline) if d is not None), default=None)

    async def wait(
        self,
        app_id: uuid.UUID,
        deployment_id: uuid.UUID,
        plan: PollSettings,
        *,
        deadline: float | None,
        on_poll: OnPoll | None = None,
    ) -> Deployment:
        """Poll one deployment until its status is terminal and return it.

        ``null``, ``waiting``, ``inProgress`` (and a status unknown to this SDK) count as
        not finished. Raises :class:`APITimeoutError` with ``last_result`` (the last
        deployment seen) once the next poll would come at or after ``deadline``, and lets
        any other API error through.
        """
        core, pacer, options = self._core, self.pacer, plan.options
        share, jitter = options.budget_share, options.poll_jitter
        request = _protocol.get_deployment_request(app_id, deployment_id)
        growth = plan.growth()
        last: Deployment | None = None
        polls = 0
        with pacer.active_wait():
            while await pacer.acquire(share, deadline):  # False: the turn comes too late
                try:
                    deployment = await core.request(
                        request, Deployment, deadline=self._call_deadline(deadline)
                    )
                except APITimeoutError as exc:
                    if exc.last_result is None and last is not None:
                        raise exc.with_last_result(last) from exc
                    raise
                polls += 1
                last = deployment
                if on_poll is not None:
                    on_poll(deployment)
                if deployment.is_finished:
                    return deployment
                base = max(next(growth), pacer.fair_interval(share))
                spread = base * (1.0 + jitter * (2.0 * self._rand() - 1.0))
                delay = max(plan.poll_interval, spread)
                if deadline is not None and core.clock() + delay >= deadline:
                    break
                await core.sleep(delay)
        raise APITimeoutError(
            f"deployment {deployment_id} of app {app_id} did not finish before the wait's "
            f"timeout ({_last_status_text(last)})",
            last_result=last,
            method=request.method,
            url=core.base_url + request.path,
            attempts=polls,
        )

    async def wait_all(
        self,
        promotions: Sequence[Promotion],
        plan: PollSettings,
        *,
        deadline: float | None,
        on_poll: OnPoll | None = None,
    ) -> list[Deployment]:
        """Wait for every deployment of ``promotions``, ``plan.concurrency`` at a time, all
        by one ``deadline``; the finished deployments in input order, or
        :class:`WaitAllError` after every one has been waited for when any could not be.

        Worker tasks take the next input as they free up. A worker catches only
        :class:`SevallaError` (it becomes that input's result); anything else, or the
        caller being cancelled, cancels the workers and waits for them before propagating.
        """
        if not promotions:
            return []

        async def one(index: int, p: Promotion) -> Deployment | SevallaError:
            try:
                return await self.wait(
                    p.target_app_id, p.deployment_id, plan, deadline=deadline, on_poll=on_poll
                )
            except SevallaError as exc:
                return exc

        results = await Engine(promotions, one, concurrency=plan.concurrency).collect()
        if any(isinstance(r, SevallaError) for r in results):
            error = WaitAllError(results, promotions)
            raise error from next(iter(error.errors.values()))
        return [r for r in results if isinstance(r, Deployment)]

    async def promote_then_wait(
        self,
        promote: Promote,
        request: PromoteRequest,
        plan: PollSettings,
        *,
        on_poll: OnPoll | None = None,
    ) -> tuple[list[Promotion], list[Deployment]]:
        """Promote, then wait: the promotions, in target order, and their final
        deployments; the plan's timeout counts from this call, the promotion included."""
        deadline = self.deadline(plan)
        promotions = in_target_order(await promote(request), request.target_app_ids)
        deployments = await self.wait_all(promotions, plan, deadline=deadline, on_poll=on_poll)
        return promotions, deployments

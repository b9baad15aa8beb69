"""Waiting for deployments to finish: the schedule, the pacer, the loops, promote-then-wait.

Everything about waiting lives here; the resources' wait methods and the CLI only call in.

- :class:`WaitOptions` (pure): how one wait polls, besides its ``timeout`` and
  ``poll_interval``; checked at construction (``ValueError`` naming the field).
- :class:`PollPacer`: the polls of every wait of one client together spend at most
  ``budget_share`` (default half) of the read budget, learned from the API's
  ``x-ratelimit-limit`` (400 a minute until a reply tells), spread evenly over the waits
  active at that moment: with ``n`` waits and ``R`` polls a minute, one deployment is polled
  every ``max(poll_interval, 60 * n / R)`` seconds. So a handful of waits poll every second
  (a finished deployment is seen about a second later), and a thousand share the budget
  (each every 5 minutes at 200 a minute). The pacer also spaces poll starts ``60 / R``
  seconds apart, so a burst of waits starting together stays within the share.
- :class:`Waiter`: the loops (one deployment, many, promote-then-wait), each poll a GET
  through the core's one request loop (so a transient fault is retried by the client's
  retry policy) ending by the wait's deadline. Time and sleep come from the core.

The waiting code knows the client only through :class:`WaitCore`, a small protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import attrs

from . import _protocol
from ._errors import APITimeoutError, SevallaError
from ._ids import to_uuid
from ._models import Deployment, PromoteRequest, Promotion
from ._result_errors import WaitAllError

__all__ = [
    "ASSUMED_READ_LIMIT",
    "DEFAULT_BUDGET_SHARE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_CONCURRENCY",
    "OnPoll",
    "PollPacer",
    "ReadBudget",
    "WaitCore",
    "WaitOptions",
    "WaitPlan",
    "Waiter",
    "as_promotions",
    "check_timeout",
    "in_target_order",
]

T = TypeVar("T")

DEFAULT_TIMEOUT = 15 * 60.0
"""Seconds a wait gives the deployments to finish."""

DEFAULT_POLL_INTERVAL = 1.0
"""The shortest time between two polls of one deployment (the floor), in seconds."""

DEFAULT_WAIT_CONCURRENCY = 50
"""Deployments polled at once by ``wait_all``."""

DEFAULT_BUDGET_SHARE = 0.5
"""The share of the read budget that all polls of one client may spend together."""

ASSUMED_READ_LIMIT = 400
"""Reads a minute assumed before a reply's ``x-ratelimit-limit`` tells (Sevalla's limit)."""


class OnPoll(Protocol):
    """The ``on_poll`` hook of a wait: called with every deployment a poll returns (for
    progress output); its return value is ignored. Any callable taking one deployment
    fits, e.g. ``lambda d: print(d.status)``."""

    def __call__(self, deployment: Deployment, /) -> object: ...


class ReadBudget(Protocol):
    """What waiting needs of the client's rate limiter: the limit a bucket learned."""

    def limit(self, bucket: str) -> int | None:
        """Requests a window allows in ``bucket`` (``None`` until a reply tells)."""
        ...


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


def _finite_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return float(value)


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` as seconds (``None``: no deadline); ValueError unless positive."""
    if timeout is None:
        return None
    seconds = _finite_number("timeout", timeout)
    if seconds <= 0:
        raise ValueError(f"timeout: must be a positive number of seconds, got {timeout!r}")
    return seconds


def _check_concurrency(concurrency: int) -> int:
    if type(concurrency) is not int or concurrency < 1:
        raise ValueError(f"concurrency: must be an integer >= 1, got {concurrency!r}")
    return concurrency


def _check_poll_interval(value: float) -> float:
    if _finite_number("poll_interval", value) <= 0:
        raise ValueError(f"poll_interval: must be > 0 seconds, got {value!r}")
    return float(value)


def _check_max(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and _finite_number(attribute.name, value) <= 0:
        raise ValueError(f"{attribute.name}: must be > 0 seconds or None, got {value!r}")


def _check_factor(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if _finite_number(attribute.name, value) < 1:
        raise ValueError(f"{attribute.name}: must be >= 1, got {value!r}")


def _check_jitter(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 <= _finite_number(attribute.name, value) < 1:
        raise ValueError(f"{attribute.name}: must be from 0 to below 1, got {value!r}")


def _check_share(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not 0 < _finite_number(attribute.name, value) <= 1:
        raise ValueError(f"{attribute.name}: must be above 0 and at most 1, got {value!r}")


@attrs.frozen(kw_only=True)
class WaitOptions:
    """How a wait polls, besides its ``timeout`` and ``poll_interval`` (the floor).

    The interval after a deployment's k-th poll is the longer of
    ``poll_interval * poll_factor ** k`` (capped at ``max_poll_interval``) and the fair
    share of the read budget (``60 * active waits / polls a minute``), spread by
    +/- ``poll_jitter``, and never shorter than ``poll_interval``.

    Attributes:
        budget_share: the share (0 to 1] of the read budget that all polls of the client
            may spend together (default 0.5: 200 of the API's 400 reads a minute, leaving
            the rest for your own reads).
        poll_factor: growth of the interval from one poll to the next (default 1: none).
        max_poll_interval: cap of that growth, seconds (default ``None``: no cap; the
            budget's fair share may still be longer).
        poll_jitter: random spread of each interval, a fraction from 0 to < 1 (0.1).
    """

    budget_share: float = attrs.field(default=DEFAULT_BUDGET_SHARE, validator=_check_share)
    poll_factor: float = attrs.field(default=1.0, validator=_check_factor)
    max_poll_interval: float | None = attrs.field(default=None, validator=_check_max)
    poll_jitter: float = attrs.field(default=0.1, validator=_check_jitter)


def _options(
    options: WaitOptions | None,
    max_poll_interval: float | None,
    poll_factor: float | None,
    poll_jitter: float | None,
) -> WaitOptions:
    """``options`` with the individual keywords given (not ``None``) laid over it."""
    if options is None:
        options = WaitOptions()
    elif not isinstance(options, WaitOptions):
        raise ValueError(f"options: expected a WaitOptions, got {type(options).__name__}")
    changes: dict[str, float] = {}
    if max_poll_interval is not None:
        changes["max_poll_interval"] = max_poll_interval
    if poll_factor is not None:
        changes["poll_factor"] = poll_factor
    if poll_jitter is not None:
        changes["poll_jitter"] = poll_jitter
    return attrs.evolve(options, **changes) if changes else options


@attrs.frozen
class WaitPlan:
    """Checked options of one wait: the floor, the options, the concurrency, the timeout."""

    poll_interval: float
    options: WaitOptions
    concurrency: int = DEFAULT_WAIT_CONCURRENCY
    timeout: float | None = DEFAULT_TIMEOUT

    @classmethod
    def check(
        cls,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        options: WaitOptions | None = None,
        concurrency: int = DEFAULT_WAIT_CONCURRENCY,
        max_poll_interval: float | None = None,
        poll_factor: float | None = None,
        poll_jitter: float | None = None,
    ) -> WaitPlan:
        """Check every option (``ValueError`` naming the first bad one), before any I/O."""
        floor = _check_poll_interval(poll_interval)
        merged = _options(options, max_poll_interval, poll_factor, poll_jitter)
        if merged.max_poll_interval is not None and merged.max_poll_interval < floor:
            raise ValueError(
                f"max_poll_interval: must be >= poll_interval ({poll_interval!r}), "
                f"got {merged.max_poll_interval!r}"
            )
        return cls(floor, merged, _check_concurrency(concurrency), check_timeout(timeout))

    def growth(self) -> Iterator[float]:
        """The intervals of the growth schedule, before the budget's share and jitter."""
        base = self.poll_interval
        cap = self.options.max_poll_interval
        while True:
            yield base
            base *= self.options.poll_factor
            if cap is not None:
                base = min(base, cap)


class PollPacer:
    """Paces the polls of one client's waits to a share of its read budget.

    ``limit()`` gives the read budget learned from the API (``None``: assume
    :data:`ASSUMED_READ_LIMIT`); :attr:`per_minute`, when set, caps the polls a minute
    further (``Deployments.max_polls_per_minute``). Shared by every wait of the client.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        limit: Callable[[], int | None],
        per_minute: int | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._next = -math.inf
        self.active: int = 0
        self.per_minute = per_minute

    @property
    def per_minute(self) -> int | None:
        """A cap on the polls started a minute, over the share (``None``: the share only)."""
        return self._per_minute

    @per_minute.setter
    def per_minute(self, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(
                f"max_polls_per_minute: must be an integer >= 1 or None, got {value!r}"
            )
        self._per_minute = value

    def rate(self, share: float) -> float:
        """Polls a minute all waits together may start with this ``share`` of the budget."""
        learned = self._limit()
        limit = ASSUMED_READ_LIMIT if learned is None or learned < 1 else learned
        rate = max(1.0, share * limit)
        return rate if self._per_minute is None else min(rate, float(self._per_minute))

    def fair_interval(self, share: float) -> float:
        """Seconds between two polls of one deployment so that the active waits together
        stay within the share."""
        return 60.0 * max(1, self.active) / self.rate(share)

    @contextlib.contextmanager
    def active_wait(self) -> Iterator[None]:
        """Count one wait as active while the block runs."""
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    async def acquire(self, share: float, deadline: float | None) -> bool:
        """Wait for this poll's turn; ``False`` (without waiting) when the turn comes at or
        after ``deadline``."""
        now = self._clock()
        start = max(now, self._next)
        if deadline is not None and start >= deadline:
            return False
        self._next = start + 60.0 / self.rate(share)
        if start > now:
            await self._sleep(start - now)
        return True


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

    def deadline(self, plan: WaitPlan) -> float | None:
        """The deadline of a wait with this plan, counted from now."""
        return None if plan.timeout is None else self._core.clock() + plan.timeout

    def _call_deadline(self, deadline: float | None) -> float | None:
        own = self._core.deadline(self._core.call_timeout)
        if own is None:
            return deadline
        return own if deadline is None else min(own, deadline)

    async def wait(
        self,
        app_id: uuid.UUID,
        deployment_id: uuid.UUID,
        plan: WaitPlan,
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
            while True:
                if not await pacer.acquire(share, deadline):
                    raise self._timed_out(request, deployment_id, app_id, last, polls)
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
                    raise self._timed_out(request, deployment_id, app_id, last, polls)
                await core.sleep(delay)

    def _timed_out(
        self,
        request: _protocol.Request,
        deployment_id: uuid.UUID,
        app_id: uuid.UUID,
        last: Deployment | None,
        polls: int,
    ) -> APITimeoutError:
        return APITimeoutError(
            f"deployment {deployment_id} of app {app_id} did not finish before the wait's "
            f"timeout ({_last_status_text(last)})",
            last_result=last,
            method=request.method,
            url=self._core.base_url + request.path,
            attempts=polls,
        )

    async def wait_all(
        self,
        promotions: Sequence[Promotion],
        plan: WaitPlan,
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
        results: list[Deployment | SevallaError | None] = [None] * len(promotions)
        pending = iter(range(len(promotions)))

        async def worker() -> None:
            for index in pending:
                promotion = promotions[index]
                try:
                    results[index] = await self.wait(
                        promotion.target_app_id,
                        promotion.deployment_id,
                        plan,
                        deadline=deadline,
                        on_poll=on_poll,
                    )
                except SevallaError as exc:
                    results[index] = exc

        count = min(plan.concurrency, len(promotions))
        workers = [asyncio.create_task(worker()) for _ in range(count)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        done = [r for r in results if r is not None]
        assert len(done) == len(promotions)
        if any(isinstance(r, SevallaError) for r in done):
            error = WaitAllError(done, promotions)
            raise error from next(iter(error.errors.values()))
        return [r for r in done if isinstance(r, Deployment)]

    async def promote_then_wait(
        self,
        promote: Promote,
        request: PromoteRequest,
        plan: WaitPlan,
        *,
        on_poll: OnPoll | None = None,
    ) -> tuple[list[Promotion], list[Deployment]]:
        """Promote, then wait: the promotions, in target order, and their final
        deployments; the plan's timeout counts from this call, the promotion included."""
        deadline = self.deadline(plan)
        promotions = in_target_order(await promote(request), request.target_app_ids)
        deployments = await self.wait_all(promotions, plan, deadline=deadline, on_poll=on_poll)
        return promotions, deployments

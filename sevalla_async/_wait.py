"""Waiting for deployments to finish.

Three parts, each with one job:

- :class:`PollSchedule` (pure): when to poll next. The first interval is ``poll_interval``
  (2 s), each next one ``poll_factor`` (1.5) times longer, capped at ``max_poll_interval``
  (15 s): 2, 3, 4.5, 6.75, 10.1, 15, 15 ... seconds; each is spread by +/- ``poll_jitter``
  (10 %) so that many waiters started together do not poll in lockstep. A deployment that
  ends quickly is seen quickly; a long one costs about 4 polls a minute.
- :class:`PollPacer`: the polls of every wait of one client together start at most
  ``max_polls_per_minute`` times a minute (default 300, under the API's 400 reads a
  minute, leaving room for the caller's other reads).
- :func:`wait_for_deployment` / :func:`wait_many`: the loops. Each poll is a GET through the
  client's one request loop, so a transient fault (5xx, 429, a lost connection) is retried
  by the client's retry policy; each poll's GET ends by the wait's deadline. Sleeping and
  time come from the client's injected ``sleep`` and ``clock``.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from . import _protocol
from ._errors import APITimeoutError, SevallaError, WaitAllError
from ._ids import to_uuid
from ._models import Deployment, Promotion

if TYPE_CHECKING:
    from ._core import Core

__all__ = [
    "DEFAULT_POLLS_PER_MINUTE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_CONCURRENCY",
    "OnPoll",
    "PollPacer",
    "PollSchedule",
    "WaitAllError",
    "as_promotions",
    "call_deadline",
    "check_concurrency",
    "check_timeout",
    "wait_for_deployment",
    "wait_many",
]

DEFAULT_TIMEOUT = 15 * 60.0
"""Seconds a wait gives the deployments to finish."""

DEFAULT_WAIT_CONCURRENCY = 50
"""Deployments polled at once by ``wait_all`` (see its docstring for the arithmetic)."""

DEFAULT_POLLS_PER_MINUTE = 300
"""Polls a minute that one client's waits may start together."""

OnPoll = Callable[[Deployment], object]
"""Called with every deployment a poll returns (for progress output)."""


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return float(value)


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` as seconds (``None``: no deadline); ValueError unless positive."""
    if timeout is None:
        return None
    seconds = _number("timeout", timeout)
    if seconds <= 0:
        raise ValueError(f"timeout: must be a positive number of seconds, got {timeout!r}")
    return seconds


def check_concurrency(concurrency: int) -> int:
    """``concurrency`` as an int >= 1, else ValueError."""
    if type(concurrency) is not int or concurrency < 1:
        raise ValueError(f"concurrency: must be an integer >= 1, got {concurrency!r}")
    return concurrency


def call_deadline(core: Core, deadline: float | None) -> float | None:
    """The deadline of one call made inside a wait: the client's own per-call timeout, but
    never later than the wait's ``deadline``."""
    own = core.deadline(core.call_timeout)
    if own is None:
        return deadline
    return own if deadline is None else min(own, deadline)


@attrs.frozen(slots=True)
class PollSchedule:
    """When to poll: ``poll_interval``, then ``poll_factor`` times longer each time, capped
    at ``max_poll_interval``, each spread by +/- ``poll_jitter`` (a fraction, 0 to < 1).
    Invalid values raise ``ValueError`` naming the argument."""

    poll_interval: float = 2.0
    max_poll_interval: float = 15.0
    poll_factor: float = 1.5
    poll_jitter: float = 0.1

    def __attrs_post_init__(self) -> None:
        interval = _number("poll_interval", self.poll_interval)
        if interval <= 0:
            raise ValueError(f"poll_interval: must be > 0 seconds, got {self.poll_interval!r}")
        if _number("max_poll_interval", self.max_poll_interval) < interval:
            raise ValueError(
                f"max_poll_interval: must be >= poll_interval ({self.poll_interval!r}), "
                f"got {self.max_poll_interval!r}"
            )
        if _number("poll_factor", self.poll_factor) < 1:
            raise ValueError(f"poll_factor: must be >= 1, got {self.poll_factor!r}")
        if not 0 <= _number("poll_jitter", self.poll_jitter) < 1:
            raise ValueError(f"poll_jitter: must be from 0 to below 1, got {self.poll_jitter!r}")

    def intervals(self, rand: Callable[[], float] = random.random) -> Iterator[float]:
        """The waits between polls, endless. ``rand()`` gives a number in [0, 1)."""
        base = float(self.poll_interval)
        while True:
            yield base * (1.0 + self.poll_jitter * (2.0 * rand() - 1.0))
            base = min(base * self.poll_factor, float(self.max_poll_interval))


class PollPacer:
    """Spaces the polls of one client: at most ``per_minute`` start in any minute, one every
    ``60 / per_minute`` seconds (``None``: no pacing). Shared by all its waits."""

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Any],
        per_minute: int | None = DEFAULT_POLLS_PER_MINUTE,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf
        self.per_minute = per_minute

    @property
    def per_minute(self) -> int | None:
        return self._per_minute

    @per_minute.setter
    def per_minute(self, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < 1):
            raise ValueError(
                f"max_polls_per_minute: must be an integer >= 1 or None, got {value!r}"
            )
        self._per_minute = value

    async def acquire(self, deadline: float | None) -> bool:
        """Wait for this poll's turn; ``False`` (without waiting) when the turn comes at or
        after ``deadline``."""
        if self._per_minute is None:
            return True
        now = self._clock()
        start = max(now, self._next)
        if deadline is not None and start >= deadline:
            return False
        self._next = start + 60.0 / self._per_minute
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


def _describe(deployment: Deployment | None) -> str:
    if deployment is None:
        return "no poll answered in time"
    return f"its last status was {deployment.status or 'null'}"


async def wait_for_deployment(
    core: Core,
    pacer: PollPacer,
    app_id: uuid.UUID,
    deployment_id: uuid.UUID,
    *,
    deadline: float | None,
    schedule: PollSchedule,
    on_poll: OnPoll | None = None,
    rand: Callable[[], float] = random.random,
) -> Deployment:
    """Poll one deployment until its status is terminal and return it.

    ``null``, ``waiting``, ``inProgress`` (and a status unknown to this SDK) count as not
    finished. Raises :class:`APITimeoutError` with ``last_result`` (the last deployment
    seen) once the next poll would come at or after ``deadline`` (a time on the client's
    clock), and lets any other API error through.
    """
    request = _protocol.get_deployment_request(app_id, deployment_id)
    intervals = schedule.intervals(rand)
    last: Deployment | None = None
    polls = 0
    while True:
        if not await pacer.acquire(deadline):
            raise _timed_out(core, request, deployment_id, app_id, last, polls)
        try:
            deployment: Deployment = await core.request(
                request, Deployment, deadline=call_deadline(core, deadline)
            )
        except APITimeoutError as exc:
            if exc.last_result is None:
                exc.last_result = last
            raise
        polls += 1
        last = deployment
        if on_poll is not None:
            on_poll(deployment)
        if deployment.is_finished:
            return deployment
        delay = next(intervals)
        if deadline is not None and core.clock() + delay >= deadline:
            raise _timed_out(core, request, deployment_id, app_id, last, polls)
        await core.sleep(delay)


def _timed_out(
    core: Core,
    request: _protocol.Request,
    deployment_id: uuid.UUID,
    app_id: uuid.UUID,
    last: Deployment | None,
    polls: int,
) -> APITimeoutError:
    return APITimeoutError(
        f"deployment {deployment_id} of app {app_id} did not finish before the wait's "
        f"timeout ({_describe(last)})",
        last_result=last,
        method=request.method,
        url=core.base_url + request.path,
        attempts=polls,
    )


async def wait_many(
    core: Core,
    pacer: PollPacer,
    promotions: Sequence[Promotion],
    *,
    deadline: float | None,
    schedule: PollSchedule,
    concurrency: int,
    on_poll: OnPoll | None = None,
) -> list[Deployment]:
    """Wait for every deployment of ``promotions``, ``concurrency`` at a time, all by one
    ``deadline``; the finished deployments in input order, or :class:`WaitAllError` after
    every one has been waited for when any could not be.

    ``concurrency`` worker tasks take the next input as they free up. A worker catches only
    :class:`SevallaError` (it becomes that input's result); anything else, or the caller
    being cancelled, cancels the workers and waits for them before propagating.
    """
    results: list[Deployment | SevallaError | None] = [None] * len(promotions)
    pending = iter(range(len(promotions)))

    async def worker() -> None:
        for index in pending:
            promotion = promotions[index]
            try:
                results[index] = await wait_for_deployment(
                    core,
                    pacer,
                    promotion.target_app_id,
                    promotion.deployment_id,
                    deadline=deadline,
                    schedule=schedule,
                    on_poll=on_poll,
                )
            except SevallaError as exc:
                results[index] = exc

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(promotions)))]
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

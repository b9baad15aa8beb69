"""The retry policy as a pure decision: every row of the table, for GET and POST."""

from __future__ import annotations

import itertools

import pytest

from sevalla_async import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
)
from sevalla_async._errors import APIError

policy = RetryPolicy(jitter=lambda w: w)


def rate_limited(after: float | None) -> RateLimitError:
    return RateLimitError("slow down", status_code=429, retry_after=after)


CASES: list[tuple[str, APIError, bool, bool]] = [
    # name, error, GET retried, POST retried
    ("429", rate_limited(2.0), True, True),
    ("429-no-header", rate_limited(None), True, True),
    ("refused", APIConnectionError("refused", request_sent=False), True, True),
    ("connect-timeout", APITimeoutError("connect", request_sent=False), True, True),
    ("500", InternalServerError("boom", status_code=500), True, False),
    ("503", InternalServerError("busy", status_code=503), True, False),
    ("read-timeout", APITimeoutError("read", request_sent=True), True, False),
    ("reset-after-send", APIConnectionError("reset", request_sent=True), True, False),
    ("400", BadRequestError("bad", status_code=400), False, False),
    ("404", NotFoundError("gone", status_code=404), False, False),
    ("bad-body", APIResponseValidationError("junk", status_code=200), False, False),
]


@pytest.mark.parametrize(("name", "error", "get", "post"), CASES, ids=[c[0] for c in CASES])
def test_policy_table(name: str, error: APIError, get: bool, post: bool) -> None:
    for idempotent, expected in ((True, get), (False, post)):
        wait = policy.decide(
            error, idempotent=idempotent, retries_done=0, schedule=policy.schedule()
        )
        assert (wait is not None) is expected, (name, idempotent)


def test_429_waits_what_the_server_asks() -> None:
    assert (
        policy.decide(
            rate_limited(7.5), idempotent=False, retries_done=0, schedule=policy.schedule()
        )
        == 7.5
    )


def test_429_over_the_cap_raises_at_once() -> None:
    capped = RetryPolicy(max_rate_limit_wait=10)
    assert (
        capped.decide(rate_limited(11), idempotent=True, retries_done=0, schedule=capped.schedule())
        is None
    )
    assert (
        capped.decide(rate_limited(10), idempotent=True, retries_done=0, schedule=capped.schedule())
        == 10
    )


def test_backoff_is_exponential_and_capped() -> None:
    schedule = RetryPolicy(backoff_initial=0.5, backoff_max=4, jitter=lambda w: w).schedule()
    assert list(itertools.islice(schedule, 6)) == [0.5, 1.0, 2.0, 4, 4, 4]


def test_full_jitter_stays_within_the_backoff() -> None:
    waits = list(itertools.islice(RetryPolicy(backoff_max=8).schedule(), 200))
    caps = [0.5, 1, 2, 4] + [8] * 196
    assert all(0 <= w <= cap for w, cap in zip(waits, caps, strict=True))
    assert len(set(waits)) > 100  # really random, not a constant


def test_max_retries_counts_retries() -> None:
    error = InternalServerError("busy", status_code=503)
    p = RetryPolicy(max_retries=2, jitter=lambda w: w)
    s = p.schedule()
    assert p.decide(error, idempotent=True, retries_done=0, schedule=s) is not None
    assert p.decide(error, idempotent=True, retries_done=1, schedule=s) is not None
    assert p.decide(error, idempotent=True, retries_done=2, schedule=s) is None
    assert (
        RetryPolicy(max_retries=0).decide(error, idempotent=True, retries_done=0, schedule=s)
        is None
    )


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_max_retries_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=bad)  # type: ignore[arg-type]

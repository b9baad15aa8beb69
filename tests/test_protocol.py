"""The sans-I/O protocol: requests built from models, replies decoded or mapped to errors."""

from __future__ import annotations

import email.utils
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from sevalla_async import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PromoteRequest,
    Promotion,
    RateLimitError,
    UnprocessableEntityError,
)
from sevalla_async._protocol import (
    build_promote as promote_request,
)
from sevalla_async._protocol import (
    decode,
    error_from_response,
)
from sevalla_async._rate_headers import parse_rate_limit, parse_retry_after
from sevalla_async._transport import TransportResponse as Response

P = "fb5e5168-4281-4bec-94c5-0d1584e9e657"
A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-9222-222222222222"


def reply(status: int, body: Any = b"", **headers: str) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}), raw)


def test_promote_request_wire_format() -> None:
    request = promote_request(PromoteRequest(P, A, [B, P.replace("fb", "fc")]))
    assert request.method == "POST"
    assert request.path == f"/pipelines/{P}/promote"
    assert not request.idempotent
    assert request.headers == {"Content-Type": "application/json"}
    assert request.body is not None
    assert json.loads(request.body) == {
        "source_app_id": A,
        "target_app_ids": [B, P.replace("fb", "fc")],
    }


def test_decode_promotions() -> None:
    body = [{"target_app_id": B, "deployment_id": P, "extra": {"nested": True}}]
    assert decode(reply(200, body), list[Promotion]) == [Promotion(uuid.UUID(B), uuid.UUID(P))]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (418, APIStatusError),
        (302, APIStatusError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[APIStatusError]) -> None:
    body = {"message": "Boom", "status": status, "data": {"code": "err-1", "message": "more"}}
    error = error_from_response(reply(status, body, x_request_id="rid-7"), method="GET", url="u")
    assert type(error) is cls
    assert error.status_code == status
    assert error.message == "Boom"
    assert error.code == "err-1"
    assert error.detail == "more"
    assert error.request_id == "rid-7"
    assert error.body == body
    assert error.headers["X-Request-Id"] == "rid-7"
    assert str(error) == f"GET u -> {status} Boom (more) [code err-1] [request id rid-7]"


def test_html_error_body_keeps_raw_text() -> None:
    page = b"<html><body>502 Bad Gateway</body></html>"
    error = error_from_response(reply(502, page))
    assert isinstance(error, InternalServerError)
    assert error.body == page.decode()
    assert error.message == "Bad gateway"
    assert error.code is None


def test_error_without_body() -> None:
    error = error_from_response(reply(403, b""))
    assert isinstance(error, PermissionDeniedError)
    assert error.message == "Forbidden"
    assert error.body == ""


def test_rate_limit_error_carries_retry_after() -> None:
    error = error_from_response(reply(429, {"message": "slow", "status": 429}, retry_after="7"))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 7.0


def test_retry_after_forms() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(CIMultiDict({"Retry-After": "12"})) == 12.0
    assert parse_retry_after(CIMultiDict({"Retry-After": "1.5"})) == 1.5
    assert parse_retry_after(CIMultiDict({"Retry-After": date}), now=now) == 30.0
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(CIMultiDict({"Retry-After": past}), now=now) == 0.0
    assert parse_retry_after(CIMultiDict({"x-ratelimit-reset": "9"})) == 9.0
    assert parse_retry_after(CIMultiDict({"Retry-After": "3", "x-ratelimit-reset": "9"})) == 3.0
    assert parse_retry_after(CIMultiDict({"Retry-After": "soon"})) is None
    assert parse_retry_after(CIMultiDict({"Retry-After": "-4"})) is None
    assert parse_retry_after(CIMultiDict()) is None


def test_rate_limit_headers() -> None:
    info = parse_rate_limit(
        CIMultiDict(
            {"x-ratelimit-limit": "30", "x-ratelimit-remaining": "4", "x-ratelimit-reset": "17"}
        )
    )
    assert info is not None
    assert (info.limit, info.remaining, info.reset) == (30, 4, 17.0)
    assert parse_rate_limit(CIMultiDict({"x-ratelimit-remaining": "4"})) is None
    assert (
        parse_rate_limit(CIMultiDict({"x-ratelimit-remaining": "x", "x-ratelimit-reset": "1"}))
        is None
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        json.dumps([{"target_app_id": "zz", "deployment_id": P}]).encode(),
        json.dumps([{"target_app_id": B}]).encode(),
        json.dumps([{"target_app_id": B, "deployment_id": None}]).encode(),
        json.dumps({"data": []}).encode(),
        json.dumps([1, 2]).encode(),
        json.dumps("").encode(),
        json.dumps({}).encode(),
    ],
)
def test_bad_success_bodies(body: bytes) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        decode(reply(200, body, x_request_id="r9"), list[Promotion])
    assert info.value.request_id == "r9"
    assert info.value.status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
promotion_like = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "target_app_id": st.sampled_from([A, B, "x", 3, None]),
            "deployment_id": st.sampled_from([P, "", 5.5, [], None]),
            "other": json_values,
        },
    ),
    max_size=3,
)
bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda v: json.dumps(v).encode()),
    promotion_like.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"message": json_values, "status": json_values},
        optional={"data": json_values},
    ).map(lambda v: json.dumps(v).encode()),
)


@given(status=st.integers(min_value=100, max_value=599), body=bodies)
def test_any_reply_gives_models_or_an_api_error(status: int, body: bytes) -> None:
    response = reply(status, body)
    try:
        if not 200 <= status < 300:
            raise error_from_response(response)
        result = decode(response, list[Promotion])
    except APIError:
        return
    assert 200 <= status < 300
    assert all(isinstance(p, Promotion) for p in result)
    assert all(isinstance(p.deployment_id, uuid.UUID) for p in result)

"""The promote reply check (``Request.accept`` of a promote request): the reply must name
each requested target exactly once, with ids the API can have made; the result is in
target order, holds the request's own target ids, and each failure says what is wrong."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from sevalla_async import APIResponseValidationError, PromoteRequest, Promotion
from sevalla_async._protocol import build_promote, decode
from sevalla_async._transport import TransportResponse

PIPELINE = uuid.UUID("fb5e5168-4281-4bec-94c5-0d1584e9e657")
SOURCE = uuid.UUID("0b5e5168-4281-4bec-94c5-0d1584e9e657")
A, B, C = (uuid.UUID(f"{n}b5e5168-4281-4bec-94c5-0d1584e9e657") for n in "123")
DEP = [uuid.UUID(f"d{n}5e5168-4281-4bec-94c5-0d1584e9e657") for n in "0123"]
V0 = "1b5e5168-4281-0bec-94c5-0d1584e9e657"  # version 0: no API id


def _item(target: object, deployment: object) -> dict[str, Any]:
    return {"target_app_id": str(target), "deployment_id": str(deployment)}


def _check(targets: list[uuid.UUID], reply: Any) -> list[Promotion]:
    request = build_promote(PromoteRequest(PIPELINE, SOURCE, targets))
    headers = CIMultiDictProxy(CIMultiDict({"x-request-id": "req-1"}))
    response = TransportResponse(200, headers, json.dumps(reply).encode())
    result: list[Promotion] = decode(
        response, list[Promotion], accept=request.accept, wire=request.wire
    )
    return result


def test_result_is_in_target_order_with_the_request_own_ids() -> None:
    result = _check([A, B], [_item(B, DEP[1]), _item(A, DEP[0])])
    assert result == [Promotion(A, DEP[0]), Promotion(B, DEP[1])]
    assert result[0].target_app_id is A  # the request's own id, not parsed again
    assert all(type(p.deployment_id) is uuid.UUID for p in result)


def test_target_ids_in_upper_case_are_the_same_targets() -> None:
    result = _check([A, B], [_item(str(A).upper(), DEP[0]), _item(B, DEP[1])])
    assert result == [Promotion(A, DEP[0]), Promotion(B, DEP[1])]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ([_item(A, DEP[0]), _item(A, DEP[1])], rf"\[1\].target_app_id: {A} appears twice"),
        (
            [_item(A, DEP[0]), _item(B, DEP[1]), _item(C, DEP[2])],
            f"{C} was not requested",
        ),
        ([_item(A, DEP[0]), _item(C, DEP[2])], f"target {C} was not requested"),
        ([_item(A, DEP[0])], rf"1 of 2 requested targets missing from the reply \(first: {B}\)"),
        ([_item(A, DEP[0]), _item(B, V0)], r"\[1\].deployment_id: .* is not a valid UUID"),
        ([_item(V0, DEP[0]), _item(B, DEP[1])], r"\[0\].target_app_id: .* is not a valid UUID"),
        (
            [_item("{" + str(A) + "}", DEP[0]), _item(B, DEP[1])],
            r"\[0\].target_app_id: .* is not a valid UUID",
        ),
        ([{"target_app_id": str(A)}, _item(B, DEP[1])], r"\$\[0\]\.deployment_id"),
        ([{"target_app_id": 5, "deployment_id": str(DEP[0])}], r"\$\[0\]\.target_app_id"),
        ({"target_app_id": str(A)}, "expected an array"),
    ],
    ids=[
        "duplicate",
        "extra",
        "extra-and-missing",
        "missing",
        "bad-deployment",
        "bad-target",
        "braced-target",
        "missing-field",
        "wrong-type",
        "not-a-list",
    ],
)
def test_reply_not_covering_the_targets_is_refused(reply: Any, message: str) -> None:
    with pytest.raises(APIResponseValidationError, match=message) as caught:
        _check([A, B], reply)
    assert caught.value.request_id == "req-1"
    assert caught.value.status_code == 200

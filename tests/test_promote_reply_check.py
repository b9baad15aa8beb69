"""The promote reply check (``Request.accept`` of a promote request): the reply must name
each requested target exactly once, with ids the API can have made; the result is in
target order, and each failure says what is wrong."""

from __future__ import annotations

import uuid

import pytest

from sevalla_async import PromoteRequest, Promotion
from sevalla_async._protocol import build_promote

PIPELINE = uuid.UUID("fb5e5168-4281-4bec-94c5-0d1584e9e657")
SOURCE = uuid.UUID("0b5e5168-4281-4bec-94c5-0d1584e9e657")
A, B, C = (uuid.UUID(f"{n}b5e5168-4281-4bec-94c5-0d1584e9e657") for n in "123")
DEP = [uuid.UUID(f"d{n}5e5168-4281-4bec-94c5-0d1584e9e657") for n in "0123"]
V0 = uuid.UUID("1b5e5168-4281-0bec-94c5-0d1584e9e657")  # version 0: no API id


def _check(targets: list[uuid.UUID], reply: list[Promotion]) -> list[Promotion]:
    accept = build_promote(PromoteRequest(PIPELINE, SOURCE, targets)).accept
    assert accept is not None
    result: list[Promotion] = accept(reply)
    return result


def test_result_is_in_target_order() -> None:
    reply = [Promotion(B, DEP[1]), Promotion(A, DEP[0])]
    assert _check([A, B], reply) == [Promotion(A, DEP[0]), Promotion(B, DEP[1])]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ([Promotion(A, DEP[0]), Promotion(A, DEP[1])], rf"\[1\].target_app_id: {A} appears twice"),
        (
            [Promotion(A, DEP[0]), Promotion(B, DEP[1]), Promotion(C, DEP[2])],
            f"{C} was not requested",
        ),
        ([Promotion(A, DEP[0]), Promotion(C, DEP[2])], f"target {C} was not requested"),
        (
            [Promotion(A, DEP[0])],
            rf"1 of 2 requested targets missing from the reply \(first: {B}\)",
        ),
        ([Promotion(A, DEP[0]), Promotion(B, V0)], r"\[1\].deployment_id: .* is not an id"),
        ([Promotion(V0, DEP[0]), Promotion(B, DEP[1])], r"\[0\].target_app_id: .* is not an id"),
    ],
    ids=["duplicate", "extra", "extra-and-missing", "missing", "bad-deployment", "bad-target"],
)
def test_reply_not_covering_the_targets_is_refused(reply: list[Promotion], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _check([A, B], reply)

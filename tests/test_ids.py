"""The API's UUID rules and request validation (pure, no I/O)."""

from __future__ import annotations

import uuid

import pytest

from sevalla_async import PromoteRequest
from sevalla_async._ids import is_api_uuid, to_uuid

GOOD = "fb5e5168-4281-4bec-94c5-0d1584e9e657"
A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-9222-222222222222"


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        GOOD.upper(),
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "0189d7a0-0000-7000-b000-000000000000",  # v7, variant b
        "0189d7a0-0000-1000-8000-000000000000",  # v1
        "0189d7a0-0000-8000-a000-000000000000",  # v8
    ],
)
def test_accepted(text: str) -> None:
    assert is_api_uuid(text)
    assert to_uuid(text, "x") == uuid.UUID(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not-a-uuid",
        "fb5e5168-4281-0bec-94c5-0d1584e9e657",  # version 0
        "fb5e5168-4281-9bec-94c5-0d1584e9e657",  # version 9
        "fb5e5168-4281-4bec-c4c5-0d1584e9e657",  # variant c
        "fb5e51684281-4bec-94c5-0d1584e9e657",  # missing hyphen
        "fb5e5168428141bec94c50d1584e9e657",  # hex only
        "{fb5e5168-4281-4bec-94c5-0d1584e9e657}",
        GOOD + "\n",
        " " + GOOD,
    ],
)
def test_refused(text: str) -> None:
    assert not is_api_uuid(text)
    with pytest.raises(ValueError, match="pipeline_id"):
        to_uuid(text, "pipeline_id")


def test_uuid_objects_are_checked_too() -> None:
    assert to_uuid(uuid.UUID(GOOD), "x") == uuid.UUID(GOOD)
    with pytest.raises(ValueError, match="source_app_id"):
        to_uuid(uuid.UUID("fb5e5168-4281-0bec-94c5-0d1584e9e657"), "source_app_id")


@pytest.mark.parametrize("value", [42, None, b"bytes", 1.5])
def test_wrong_types(value: object) -> None:
    with pytest.raises(ValueError, match="app_id: expected a UUID"):
        to_uuid(value, "app_id")


def test_promote_request_normalises() -> None:
    request = PromoteRequest(GOOD, uuid.UUID(A), [B])
    assert request.pipeline_id == uuid.UUID(GOOD)
    assert request.target_app_ids == (uuid.UUID(B),)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", A, [B]), "pipeline_id: 'nope' is not a valid UUID"),
        ((GOOD, "nope", [B]), "source_app_id: 'nope'"),
        ((GOOD, A, []), "target_app_ids: at least one id is required"),
        ((GOOD, A, [B, "x"]), r"target_app_ids\[1\]: 'x'"),
        ((GOOD, A, B), "target_app_ids: expected a list of UUIDs, got str"),
        ((GOOD, A, [B, B]), r"target_app_ids\[1\]: duplicate id"),
        ((GOOD, A, [B, A]), r"target_app_ids\[1\]: .* is the source app"),
    ],
)
def test_promote_request_errors_name_the_field(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PromoteRequest(*args)  # type: ignore[arg-type]


def test_from_dict() -> None:
    request = PromoteRequest.from_dict(
        {"pipeline_id": GOOD, "source_app_id": A, "target_app_ids": [B]}
    )
    assert request == PromoteRequest(GOOD, A, [B])
    with pytest.raises(ValueError, match="source_app_id: required field is missing"):
        PromoteRequest.from_dict({"pipeline_id": GOOD, "target_app_ids": [B]})
    with pytest.raises(ValueError, match="colour: unknown field"):
        PromoteRequest.from_dict(
            {"pipeline_id": GOOD, "source_app_id": A, "target_app_ids": [B], "colour": 1}
        )
    with pytest.raises(ValueError, match="expected an object"):
        PromoteRequest.from_dict([GOOD])


def test_request_is_frozen_and_hashable() -> None:
    request = PromoteRequest(GOOD, A, [B])
    assert hash(request) == hash(PromoteRequest(GOOD.upper(), A, [B]))
    with pytest.raises(AttributeError):
        request.pipeline_id = uuid.UUID(A)  # type: ignore[misc]

"""UUIDs: inputs are accepted exactly as the API's pattern accepts them, and replies are
decoded exactly as ``uuid.UUID`` decodes them."""

from __future__ import annotations

import copy
import pickle
import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sevalla_async import PromoteRequest
from sevalla_async._convert import converter
from sevalla_async._ids import UUID_PATTERN, is_api_uuid, to_uuid, to_uuid_list

_PATTERN = re.compile(UUID_PATTERN)
values = st.integers(min_value=0, max_value=(1 << 128) - 1)
# Values that hit the version and variant boundaries much more often than uniform ints.
shaped = st.builds(
    lambda n, version, variant: (
        (n & ~(0xF << 76) & ~(0x3 << 62)) | (version << 76) | (variant << 62)
    ),
    values,
    st.integers(0, 15),
    st.integers(0, 3),
)
any_value = st.one_of(values, shaped, st.sampled_from([0, (1 << 128) - 1]))


def parse_uuid(text: str) -> uuid.UUID:
    """A UUID of a reply, decoded by the package's converter."""
    return converter.structure(text, uuid.UUID)


def _same(a: uuid.UUID, b: uuid.UUID) -> None:
    assert type(a) is uuid.UUID
    assert a == b
    assert hash(a) == hash(b)
    assert str(a) == str(b)
    assert repr(a) == repr(b)
    assert a.is_safe == b.is_safe
    assert a.version == b.version
    assert pickle.loads(pickle.dumps(a)) == b  # noqa: S301 - our own object
    assert copy.deepcopy(a) == b
    assert {a: 1}[b] == 1


@given(any_value, st.booleans())
def test_canonical_strings_build_real_equal_uuids(n: int, upper: bool) -> None:
    text = str(uuid.UUID(int=n))
    if upper:
        text = text.upper()
    _same(parse_uuid(text), uuid.UUID(text))


@given(any_value, st.booleans())
def test_to_uuid_accepts_exactly_what_the_api_pattern_accepts(n: int, upper: bool) -> None:
    real = uuid.UUID(int=n)
    text = str(real).upper() if upper else str(real)
    # A string is checked as given; a UUID object by its canonical (lowercase) text.
    for value, canonical in ((text, text), (real, str(real))):
        accepted = _PATTERN.match(canonical) is not None
        assert is_api_uuid(canonical) is accepted
        if accepted:
            _same(to_uuid(value, "f"), real)
        else:
            with pytest.raises(ValueError, match=r"^f: "):
                to_uuid(value, "f")


@given(
    any_value,
    st.lists(st.tuples(st.integers(0, 35), st.sampled_from("-_ {}gG0x\n:+"))),
)
def test_parse_uuid_matches_uuid_uuid_on_mangled_text(n: int, edits: list[tuple[int, str]]) -> None:
    chars = list(str(uuid.UUID(int=n)))
    for position, char in edits:
        chars[position] = char
    text = "".join(chars)
    try:
        expected = uuid.UUID(text)
    except ValueError as refused:
        with pytest.raises(ValueError, match=f"^{re.escape(str(refused))}$"):
            parse_uuid(text)
        with pytest.raises(ValueError, match=r"^f: .* is not a valid UUID"):
            to_uuid(text, "f")
    else:
        _same(parse_uuid(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "{fb5e5168-4281-4bec-94c5-0d1584e9e657}",
        "urn:uuid:fb5e5168-4281-4bec-94c5-0d1584e9e657",
        "fb5e516842814bec94c50d1584e9e657",
    ],
)
def test_other_forms_are_decoded_as_uuid_uuid_does_but_not_accepted_as_input(text: str) -> None:
    _same(parse_uuid(text), uuid.UUID(text))
    _same(converter.structure(text, uuid.UUID), uuid.UUID(text))
    with pytest.raises(ValueError, match="not a valid UUID"):
        to_uuid(text, "f")


def test_reply_decoding_keeps_its_errors() -> None:
    with pytest.raises(ValueError, match="badly formed"):
        parse_uuid("not-a-uuid")
    with pytest.raises(ValueError, match="badly formed"):
        parse_uuid("fb5e5168-4281-4bec-94c5-0d1584e9e657\n")
    assert not is_api_uuid("fb5e5168-4281-4bec-94c5-0d1584e9e657\n")
    with pytest.raises(TypeError):
        converter.structure(5, uuid.UUID)


def test_to_uuid_list_errors_name_the_index() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert to_uuid_list([a, uuid.UUID(b)], "t") == (uuid.UUID(a), uuid.UUID(b))
    assert to_uuid_list((a,), "t") == (uuid.UUID(a),)
    assert to_uuid_list(iter([a]), "t") == (uuid.UUID(a),)
    with pytest.raises(ValueError, match=r"^t\[1\]: duplicate id"):
        to_uuid_list([a, a.upper()], "t")
    with pytest.raises(ValueError, match=r"^t\[2\]: duplicate id"):
        to_uuid_list([a, b, uuid.UUID(a)], "t")
    with pytest.raises(ValueError, match=r"^t\[1\]: 'x' is not a valid UUID"):
        to_uuid_list([a, "x"], "t")
    with pytest.raises(ValueError, match=r"^t\[0\]: expected a UUID"):
        to_uuid_list([5], "t")
    with pytest.raises(ValueError, match=r"^t: at least one id"):
        to_uuid_list([], "t")
    for bad in (a, a.encode(), uuid.UUID(a), 5, None):
        with pytest.raises(ValueError, match=r"^t: expected a list of UUIDs"):
            to_uuid_list(bad, "t")


def test_promote_request_refuses_the_source_among_targets() -> None:
    source, other = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(ValueError, match=r"^target_app_ids\[1\]: .* is the source app"):
        PromoteRequest(uuid.uuid4(), str(source), [other, str(source).upper()])

"""The id codec: ULIDs stored as UUIDs, shown as `<prefix>_<ULID>`. Pure functions, no I/O."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from pydantic import TypeAdapter, ValidationError

from mindspace.platform.ids import (
    INVALID_ID_ERROR,
    InvalidIdError,
    UserId,
    decode,
    encode,
    new_id,
    register_prefix,
)

PUBLIC_ID = re.compile(r"^usr_[0-9A-HJKMNP-TV-Z]{26}$")


def test_an_id_survives_the_round_trip() -> None:
    for _ in range(100):
        value = new_id()
        text = encode("usr", value)
        assert PUBLIC_ID.match(text), text
        assert decode("usr", text) == value


def test_any_uuid_survives_the_round_trip() -> None:
    for value in (uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4()):
        assert decode("usr", encode("usr", value)) == value


def test_ids_made_later_sort_later_as_uuids_and_as_text() -> None:
    made = []
    for _ in range(5):
        made.append(new_id())
        time.sleep(0.002)  # ULIDs order by millisecond; within one they are random
    assert sorted(made) == made
    assert sorted(encode("usr", v) for v in made) == [encode("usr", v) for v in made]


def test_ids_carry_their_creation_time() -> None:
    before = int(time.time() * 1000)
    value = new_id()
    after = int(time.time() * 1000)
    assert before <= value.int >> 80 <= after  # the top 48 bits are the millisecond clock


def test_ids_are_unique() -> None:
    assert len({new_id() for _ in range(10_000)}) == 10_000


def test_lowercase_text_names_the_same_id() -> None:
    value = new_id()
    text = encode("usr", value)
    assert decode("usr", "usr_" + text[4:].lower()) == value


@pytest.mark.parametrize(
    "text",
    [
        "ses_01JD8X4V2Q0000000000000000",  # another kind's prefix
        "USR_01JD8X4V2Q0000000000000000",  # prefixes are lowercase
        "usr01JD8X4V2Q0000000000000000",  # no separator
        "_01JD8X4V2Q0000000000000000",
        "usr_01JD8X4V2Q000000000000000",  # 25 characters
        "usr_01JD8X4V2Q00000000000000000",  # 27 characters
        "usr__01JD8X4V2Q0000000000000000",
        "usr_",
        "",
        "usr_01JD8X4V2Q000000000000000U",  # U, I, L and O are not in Crockford's alphabet
        "usr_01JD8X4V2Q000000000000000I",
        "usr_01JD8X4V2Q000000000000000L",
        "usr_01JD8X4V2Q000000000000000O",
        "usr_01JD8X4V2Q00000000000000-0",
        "usr_01JD8X4V2Q00000000000000é0",
        "usr_80000000000000000000000000",  # more than 128 bits
        "usr_01JD8X4V2Q0000000000000000 ",
    ],
)
def test_malformed_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidIdError):
        decode("usr", text)


def test_an_invalid_id_error_is_a_value_error() -> None:
    # Callers that only know ValueError still refuse a bad id.
    with pytest.raises(ValueError, match="usr_"):
        decode("usr", "nope")


def test_an_id_of_one_kind_is_never_accepted_as_another() -> None:
    value = new_id()
    with pytest.raises(InvalidIdError):
        decode("usr", encode("ses", value))


def test_a_prefix_belongs_to_one_kind() -> None:
    assert register_prefix("tstx", "test thing") == "tstx"
    assert register_prefix("tstx", "test thing") == "tstx"  # the same claim again is harmless
    with pytest.raises(ValueError, match="already belongs to 'test thing'"):
        register_prefix("tstx", "another thing")


def test_the_user_prefix_cannot_be_claimed_again() -> None:
    with pytest.raises(ValueError, match="already belongs"):
        register_prefix("usr", "user session")


@pytest.mark.parametrize("prefix", ["", "u", "toolong", "Usr", "us1", "u_s", "usr_"])
def test_a_prefix_is_two_to_five_lowercase_letters(prefix: str) -> None:
    with pytest.raises(ValueError, match="2-5 lowercase letters"):
        register_prefix(prefix, "bad prefix")


def test_the_pydantic_type_speaks_prefixed_text_on_the_wire() -> None:
    adapter: TypeAdapter[uuid.UUID] = TypeAdapter(UserId)
    value = new_id()
    text = encode("usr", value)
    assert adapter.validate_python(text) == value
    assert adapter.validate_python(value) == value
    assert adapter.dump_python(value) == text
    assert adapter.dump_json(value) == f'"{text}"'.encode()
    schema = adapter.json_schema()
    assert schema["type"] == "string"
    assert re.match(schema["pattern"], text)
    assert not re.match(schema["pattern"], encode("ses", value))


@pytest.mark.parametrize("bad", ["usr_nope", "ses_01JD8X4V2Q0000000000000000", 42, None])
def test_the_pydantic_type_refuses_bad_ids_with_one_error_code(bad: object) -> None:
    adapter: TypeAdapter[uuid.UUID] = TypeAdapter(UserId)
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python(bad)
    assert [e["type"] for e in caught.value.errors()] == [INVALID_ID_ERROR]

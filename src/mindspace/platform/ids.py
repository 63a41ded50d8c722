"""One codec for identifiers.

Rows use ULIDs stored as `uuid`: time-ordered, so inserts stay at the right edge of the index and
keyset pagination by id is chronological. The API shows them as `<prefix>_<ULID>` (`usr_01J…`),
so an id says what it names and an id of one kind can never be mistaken for another.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from ulid import ULID

_PREFIXES: dict[str, str] = {}
ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"
INVALID_ID_ERROR = "invalid_public_id"


class InvalidIdError(ValueError):
    """The text is not a well-formed id of the expected kind."""


def register_prefix(prefix: str, kind: str) -> str:
    """Claim a prefix for one kind of resource; two kinds can never share one."""
    if not prefix.isalpha() or not prefix.islower() or not 2 <= len(prefix) <= 5:
        raise ValueError(f"id prefix must be 2-5 lowercase letters, got {prefix!r}")
    owner = _PREFIXES.setdefault(prefix, kind)
    if owner != kind:
        raise ValueError(f"id prefix {prefix!r} already belongs to {owner!r}")
    return prefix


def new_id() -> uuid.UUID:
    return ULID().to_uuid()


def encode(prefix: str, value: uuid.UUID) -> str:
    return f"{prefix}_{ULID.from_uuid(value)}"


def decode(prefix: str, text: str) -> uuid.UUID:
    head, sep, body = text.partition("_")
    if not sep or head != prefix or len(body) != 26:
        raise InvalidIdError(f"not a {prefix}_ id")
    try:
        return ULID.from_str(body.upper()).to_uuid()
    except ValueError as exc:
        raise InvalidIdError(f"not a {prefix}_ id") from exc


class PublicId:
    """Pydantic metadata: `Annotated[uuid.UUID, PublicId("usr", "user")]` validates
    `<prefix>_<ULID>` text into a UUID and serialises it back. In a path a malformed or
    wrong-kind id answers 404; in a body, 422 (see platform.errors)."""

    def __init__(self, prefix: str, kind: str) -> None:
        self.prefix = register_prefix(prefix, kind)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        prefix = self.prefix

        def validate(value: Any) -> uuid.UUID:
            if isinstance(value, uuid.UUID):
                return value
            if not isinstance(value, str):
                raise PydanticCustomError(
                    INVALID_ID_ERROR, "Expected an id like {example}", {"example": f"{prefix}_…"}
                )
            try:
                return decode(prefix, value)
            except InvalidIdError:
                raise PydanticCustomError(
                    INVALID_ID_ERROR,
                    "Not a valid id; expected {prefix}_ followed by 26 characters",
                    {"prefix": prefix},
                ) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: encode(prefix, v), when_used="always"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": f"^{self.prefix}_{ULID_PATTERN}$",
            "examples": [f"{self.prefix}_01JD8X4V2Q0000000000000000"],
        }


UserId = Annotated[uuid.UUID, PublicId("usr", "user")]

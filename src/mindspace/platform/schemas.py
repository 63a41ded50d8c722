"""Base models for the HTTP surface."""

from __future__ import annotations

from typing import Annotated, Any

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused, so a client can never set what it may not
    (no mass assignment), and a typo in a field name is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold U+0000; refusing it here keeps it a 422, not a 500.
        if _has_nul(value):
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Message(OutputModel):
    detail: str


_TEXTABLE = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
        phonenumbers.PhoneNumberType.VOIP,
    }
)


def e164(value: str) -> str:
    """A phone number in international form ("+44 7911 123456") as E.164 ("+447911123456")."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("write the number in international form, e.g. +44 7911 123456") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    # Premium-rate, toll-free and landline numbers cannot take a text, and texting them is how
    # SMS pumping fraud runs up a bill.
    if phonenumbers.number_type(number) not in _TEXTABLE:
        raise ValueError("use a mobile number that can receive text messages")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PhoneNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32),
    AfterValidator(e164),
    Field(examples=["+44 7911 123456"]),
]

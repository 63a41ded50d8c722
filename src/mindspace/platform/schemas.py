"""Base models for the HTTP surface."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


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

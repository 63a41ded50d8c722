from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    EmailStr,
    Field,
    IPvAnyAddress,
    StringConstraints,
    field_validator,
)

from mindspace.identity import passwords
from mindspace.platform.ids import PublicId, UserId
from mindspace.platform.schemas import InputModel, OutputModel

SessionId = Annotated[uuid.UUID, PublicId("ses", "auth session")]

Password = Annotated[str, Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)]


DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


def _valid_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    # OSError: a region folder such as "Europe" is a directory in the tz database, not a zone.
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("not an IANA time zone, e.g. Europe/London") from None
    return value


Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_valid_timezone)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]


class RegisterRequest(InputModel):
    email: EmailStr = Field(max_length=320)
    password: Password
    display_name: DisplayName


class LoginRequest(InputModel):
    email: EmailStr = Field(max_length=320)
    # Length is not checked here: a wrong password of any length is just a wrong password.
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenPair(OutputModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str


class AuthSessionOut(OutputModel):
    id: SessionId
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: IPvAnyAddress | None
    user_agent: str | None
    current: bool = Field(description="The session this request was made with")


class Me(OutputModel):
    id: UserId
    email: str | None
    email_verified: bool
    roles: list[str]
    display_name: str
    bio: str | None
    pronouns: str | None
    country: str | None
    timezone: str
    locale: str
    theme: str
    day_boundary_hour: int
    onboarding_step: int
    created_at: datetime


class MeUpdate(InputModel):
    display_name: DisplayName | None = None
    bio: Annotated[str, StringConstraints(max_length=1000)] | None = None
    pronouns: Annotated[str, StringConstraints(max_length=40)] | None = None
    country: CountryCode | None = None
    timezone: Timezone | None = None
    locale: Locale | None = None
    theme: Literal["system", "light", "dark"] | None = None
    day_boundary_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    onboarding_step: Annotated[int, Field(ge=0, le=100)] | None = None

    @field_validator(
        "display_name", "timezone", "locale", "theme", "day_boundary_hour", "onboarding_step"
    )
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Optional here means "may be left out", not "may be cleared": these always have a value.
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class PublicProfile(OutputModel):
    id: UserId
    display_name: str
    bio: str | None
    pronouns: str | None

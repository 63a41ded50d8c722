from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mindspace.platform.schemas import OutputModel

CountryCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z]{2}$",
        description="ISO 3166-1 alpha-2 country code, any case (GB, in, Es)",
        examples=["GB"],
    ),
]


class CrisisResource(OutputModel):
    name: str
    description: str
    phone: str | None = Field(default=None, description="Number to call")
    alternate_phone: str | None = None
    sms: str | None = Field(default=None, description="Number to text")
    sms_keyword: str | None = Field(
        default=None, description="Word to send, when the line needs one"
    )
    url: str | None = None
    hours: str


class CrisisResources(OutputModel):
    country: str | None = Field(description="The country these lines serve; null for the directory")
    country_name: str
    emergency: str = Field(description="Emergency number, for danger right now")
    resources: list[CrisisResource]
    fallback: bool = Field(
        description="True when we hold no lines for the requested country and answer with the "
        "international directory instead"
    )

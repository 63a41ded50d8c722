from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from mindspace.platform.schemas import InputModel, OutputModel

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


SAFETY_PLAN_PATH = "/api/v1/safety/plan"


class CrisisSupport(OutputModel):
    """Sent with every response to words assessed high risk, wherever they were written, so
    the lines are on screen whatever the client shows."""

    resources: CrisisResources
    safety_plan: str = Field(default=SAFETY_PLAN_PATH, description="Your safety plan")
    offers: list[str] = Field(default=["grounding", "safety_plan"])


# --- safety plan ------------------------------------------------------------------------------
PlanLine = Annotated[str, Field(min_length=1, max_length=500)]
MAX_LINES = 20


class PlanContactInput(InputModel):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()\-.]{3,30}$")] | None = None
    note: Annotated[str, Field(max_length=300)] | None = None


def _section(description: str) -> Any:
    return Field(default_factory=list, max_length=MAX_LINES, description=description)


class SafetyPlanInput(InputModel):
    """The whole plan: PUT replaces it, so a section left out is emptied."""

    warning_signs: Annotated[list[PlanLine], _section("Signs that a crisis may be coming")]
    coping_steps: Annotated[list[PlanLine], _section("Things I can do on my own to cope")]
    people_and_places: Annotated[
        list[PlanContactInput], _section("People and places that take my mind off things")
    ]
    people_to_ask: Annotated[list[PlanContactInput], _section("People I can ask for help")]
    professionals: Annotated[
        list[PlanContactInput], _section("Professionals and services I can contact")
    ]
    environment_safety: Annotated[list[PlanLine], _section("How I make my surroundings safe")]
    reasons_for_living: Annotated[list[PlanLine], _section("What matters most to me")]


class PlanContact(OutputModel):
    name: str
    phone: str | None = None
    note: str | None = None


class SafetyPlan(OutputModel):
    warning_signs: list[str]
    coping_steps: list[str]
    people_and_places: list[PlanContact]
    people_to_ask: list[PlanContact]
    professionals: list[PlanContact]
    environment_safety: list[str]
    reasons_for_living: list[str]
    updated_at: datetime | None = Field(description="Null until the plan is first saved")

"""Safety's HTTP surface."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mindspace.platform.errors import problem_responses
from mindspace.safety import resources
from mindspace.safety.schemas import CountryCode, CrisisResources

router = APIRouter(prefix="/safety", tags=["safety"])


@router.get("/resources", responses=problem_responses())
async def get_crisis_resources(
    response: Response, country: Annotated[CountryCode | None, Query()] = None
) -> CrisisResources:
    """Crisis lines for a country. Public on purpose: a person in crisis must never have to
    sign in first. Unknown or missing countries get the international directory."""
    response.headers["Cache-Control"] = "public, max-age=3600"
    return resources.crisis_resources(country)

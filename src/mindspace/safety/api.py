"""Safety's HTTP surface."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from mindspace.platform.errors import Unauthenticated, problem_responses
from mindspace.platform.web import CurrentPrincipal, UserSession
from mindspace.safety import resources, service
from mindspace.safety.schemas import CountryCode, CrisisResources, SafetyPlan, SafetyPlanInput

router = APIRouter(prefix="/safety", tags=["safety"])


@router.get("/resources", responses=problem_responses())
async def get_crisis_resources(
    response: Response, country: Annotated[CountryCode | None, Query()] = None
) -> CrisisResources:
    """Crisis lines for a country. Public on purpose: a person in crisis must never have to
    sign in first. Unknown or missing countries get the international directory."""
    response.headers["Cache-Control"] = "public, max-age=3600"
    return resources.crisis_resources(country)


@router.get("/plan", responses=problem_responses(Unauthenticated))
async def get_safety_plan(session: UserSession, principal: CurrentPrincipal) -> SafetyPlan:
    """The signed-in person's safety plan; empty sections until they first save it."""
    return await service.get_plan(session, principal)


@router.put("/plan", responses=problem_responses(Unauthenticated))
async def put_safety_plan(
    body: SafetyPlanInput, session: UserSession, principal: CurrentPrincipal
) -> SafetyPlan:
    """Saves the whole plan: sections left out are emptied. Only its owner ever sees it."""
    return await service.replace_plan(session, principal, plan=body)

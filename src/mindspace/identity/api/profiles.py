"""Public profiles, and a person's own activity log."""

from __future__ import annotations

from fastapi import APIRouter

from mindspace.identity import service
from mindspace.identity.errors import ProfileNotFound
from mindspace.identity.schemas import AccountActivityOut, PublicProfile
from mindspace.platform.errors import Unauthenticated, problem_responses
from mindspace.platform.ids import UserId
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.web import AnySession, CurrentPrincipal, OptionalPrincipal, UserSession

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me/activity", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_my_activity(
    session: UserSession, principal: CurrentPrincipal, paging: Paging
) -> Page[AccountActivityOut]:
    """Sign-ins, password and email changes, token-reuse alerts: newest first."""
    return await service.list_activity(session, principal, paging)


@router.get("/{usr_id}", responses=problem_responses(ProfileNotFound, Unauthenticated))
async def get_public_profile(
    usr_id: UserId, session: AnySession, principal: OptionalPrincipal
) -> PublicProfile:
    """A person's public profile. No sign-in needed: public means public. A private profile
    answers 404, exactly like an unknown one."""
    return await service.get_public_profile(session, principal, user_id=usr_id)

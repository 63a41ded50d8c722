from __future__ import annotations

from fastapi import APIRouter

from mindspace.identity import service
from mindspace.identity.errors import CriticalNotificationsRequired
from mindspace.identity.schemas import Preferences, PreferencesUpdate
from mindspace.platform.errors import Unauthenticated, problem_responses
from mindspace.platform.web import CurrentPrincipal, UserSession

router = APIRouter(prefix="/users/me/preferences", tags=["users"])


@router.get("", responses=problem_responses(Unauthenticated))
async def get_preferences(session: UserSession, principal: CurrentPrincipal) -> Preferences:
    """Notification channels per category and privacy options; defaults until first changed."""
    return await service.get_preferences(session, principal)


@router.patch("", responses=problem_responses(Unauthenticated, CriticalNotificationsRequired))
async def update_preferences(
    body: PreferencesUpdate, session: UserSession, principal: CurrentPrincipal
) -> Preferences:
    """Changes only the fields sent, down to one channel of one category. security,
    crisis_followup and payments must keep at least one channel on (422 otherwise)."""
    return await service.update_preferences(session, principal, changes=body)

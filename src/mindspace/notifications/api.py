"""The signed-in person's inbox, quiet hours and push devices; staff broadcasts."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from mindspace.notifications import service
from mindspace.notifications.errors import (
    BroadcastNotFound,
    InvalidPushEndpoint,
    NotificationNotFound,
    PushNotConfigured,
    PushSubscriptionNotFound,
)
from mindspace.notifications.schemas import (
    BroadcastCreate,
    BroadcastId,
    BroadcastOut,
    MarkedRead,
    NotificationId,
    NotificationOut,
    PushConfig,
    PushSubscriptionCreate,
    PushSubscriptionId,
    PushSubscriptionOut,
    QuietHours,
    QuietHoursUpdate,
    UnreadCount,
)
from mindspace.platform.config import Settings
from mindspace.platform.errors import Forbidden, Unauthenticated, problem_responses
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.web import (
    CurrentPrincipal,
    DatabaseDep,
    RequestOrigin,
    StaffPrincipal,
    UserReader,
    UserSession,
)
from mindspace.platform.webpush import load_private_key, public_key_b64

router = APIRouter(prefix="/notifications", tags=["notifications"])
admin_router = APIRouter(prefix="/admin/notifications", tags=["admin"])
_STAFF_ERRORS = (Unauthenticated, Forbidden)


@lru_cache(maxsize=4)
def _public_key(private_key: str) -> str:
    return public_key_b64(load_private_key(private_key))


async def vapid_public_key(request: Request) -> str | None:
    settings: Settings = request.app.state.settings
    key = settings.vapid_private_key
    return _public_key(key.get_secret_value()) if key is not None else None


VapidPublicKey = Annotated[str | None, Depends(vapid_public_key)]


@router.get("", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_notifications(
    reader: UserReader,
    principal: CurrentPrincipal,
    paging: Paging,
    unread: Annotated[bool, Query(description="Only notifications not read yet")] = False,
) -> Page[NotificationOut]:
    """The inbox, newest first."""
    return await service.list_notifications(reader, principal, params=paging, unread_only=unread)


@router.get("/unread-count", responses=problem_responses(Unauthenticated))
async def unread_count(reader: UserReader, principal: CurrentPrincipal) -> UnreadCount:
    return await service.unread_count(reader, principal)


@router.post("/read-all", responses=problem_responses(Unauthenticated))
async def mark_all_read(session: UserSession, principal: CurrentPrincipal) -> MarkedRead:
    return await service.mark_all_read(session, principal)


@router.post("/{ntf_id}/read", responses=problem_responses(Unauthenticated, NotificationNotFound))
async def mark_read(
    ntf_id: NotificationId, session: UserSession, principal: CurrentPrincipal
) -> NotificationOut:
    return await service.mark_read(session, principal, notification_id=ntf_id)


@router.delete(
    "/{ntf_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthenticated, NotificationNotFound),
)
async def delete_notification(
    ntf_id: NotificationId, session: UserSession, principal: CurrentPrincipal
) -> None:
    await service.delete_notification(session, principal, notification_id=ntf_id)


@router.get("/quiet-hours", responses=problem_responses(Unauthenticated))
async def get_quiet_hours(session: UserSession, principal: CurrentPrincipal) -> QuietHours:
    return await service.get_quiet_hours(session, principal)


@router.put("/quiet-hours", responses=problem_responses(Unauthenticated))
async def set_quiet_hours(
    body: QuietHoursUpdate, session: UserSession, principal: CurrentPrincipal
) -> QuietHours:
    """Times are local to the profile's timezone; the window may cross midnight. Security,
    crisis follow-ups and payments are never held."""
    return await service.set_quiet_hours(session, principal, changes=body)


@router.get("/push/config", responses=problem_responses(Unauthenticated))
async def push_config(principal: CurrentPrincipal, public_key: VapidPublicKey) -> PushConfig:
    """The VAPID key a browser subscribes with, when this server sends Web Push."""
    return service.push_config(public_key)


@router.post(
    "/push/subscriptions",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated, PushNotConfigured, InvalidPushEndpoint),
)
async def subscribe_push(
    body: PushSubscriptionCreate,
    db: DatabaseDep,
    principal: CurrentPrincipal,
    origin: RequestOrigin,
    public_key: VapidPublicKey,
    request: Request,
) -> PushSubscriptionOut:
    """Stores the browser's PushSubscription (`subscription.toJSON()`); sending it again
    updates its keys."""
    settings: Settings = request.app.state.settings
    return await service.subscribe_push(
        db,
        principal,
        subscription=body,
        user_agent=origin.user_agent,
        push_enabled=public_key is not None,
        allow_private=settings.push_allow_private_endpoints,
    )


@router.get("/push/subscriptions", responses=problem_responses(Unauthenticated))
async def list_push_subscriptions(
    session: UserSession, principal: CurrentPrincipal
) -> list[PushSubscriptionOut]:
    return await service.list_push_subscriptions(session, principal)


@router.delete(
    "/push/subscriptions/{psb_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthenticated, PushSubscriptionNotFound),
)
async def unsubscribe_push(
    psb_id: PushSubscriptionId, session: UserSession, principal: CurrentPrincipal
) -> None:
    await service.unsubscribe_push(session, principal, subscription_id=psb_id)


@admin_router.post(
    "/broadcasts", status_code=status.HTTP_202_ACCEPTED, responses=problem_responses(*_STAFF_ERRORS)
)
async def create_broadcast(
    body: BroadcastCreate, db: DatabaseDep, principal: StaffPrincipal, origin: RequestOrigin
) -> BroadcastOut:
    """Queues an in-app announcement to a segment (everyone, a role, a country). It goes out
    in batches; each person gets it once, and only where their in-app setting allows."""
    return await service.create_broadcast(db, principal, request=body, origin=origin)


@admin_router.get(
    "/broadcasts/{nbc_id}", responses=problem_responses(*_STAFF_ERRORS, BroadcastNotFound)
)
async def get_broadcast(
    nbc_id: BroadcastId, db: DatabaseDep, principal: StaffPrincipal, origin: RequestOrigin
) -> BroadcastOut:
    return await service.get_broadcast(db, principal, broadcast_id=nbc_id, origin=origin)

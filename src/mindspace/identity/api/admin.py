"""The staff surface: accounts and the audit trail. Admins and supers only (403 for others)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mindspace.identity import service
from mindspace.identity.auth import Tokens
from mindspace.identity.errors import StaffActionRefused, UserNotFound
from mindspace.identity.schemas import (
    AdminUser,
    AnyId,
    AuditRecordOut,
    RolesUpdate,
    SuspendRequest,
)
from mindspace.platform.errors import Forbidden, Unauthenticated, problem_responses
from mindspace.platform.ids import UserId
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.security import Role
from mindspace.platform.web import DatabaseDep, RequestOrigin, StaffPrincipal

router = APIRouter(prefix="/admin", tags=["admin"])

_STAFF_ERRORS = (Unauthenticated, Forbidden)
StatusFilter = Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$", description="e.g. active")]


@router.get("/users", responses=problem_responses(*_STAFF_ERRORS, InvalidCursor))
async def list_users(
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
    paging: Paging,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=320, description="Prefix of the email or display name"),
    ] = None,
    status: StatusFilter = None,
    role: Role | None = None,
) -> Page[AdminUser]:
    """Accounts, newest first."""
    return await service.list_users(
        db, principal, params=paging, origin=origin, query=q, status=status, role=role
    )


@router.get("/users/{usr_id}", responses=problem_responses(*_STAFF_ERRORS, UserNotFound))
async def get_user(
    usr_id: UserId, db: DatabaseDep, principal: StaffPrincipal, origin: RequestOrigin
) -> AdminUser:
    return await service.inspect_user(db, principal, user_id=usr_id, origin=origin)


@router.post(
    "/users/{usr_id}/suspend",
    responses=problem_responses(*_STAFF_ERRORS, UserNotFound, StaffActionRefused),
)
async def suspend_user(
    usr_id: UserId,
    body: SuspendRequest,
    db: DatabaseDep,
    principal: StaffPrincipal,
    tokens: Tokens,
    origin: RequestOrigin,
) -> AdminUser:
    """Suspends the account: its sessions end now and it cannot sign in until restored."""
    return await service.suspend_user(
        db, principal, tokens, user_id=usr_id, reason=body.reason, origin=origin
    )


@router.post(
    "/users/{usr_id}/restore",
    responses=problem_responses(*_STAFF_ERRORS, UserNotFound, StaffActionRefused),
)
async def restore_user(
    usr_id: UserId, db: DatabaseDep, principal: StaffPrincipal, origin: RequestOrigin
) -> AdminUser:
    return await service.restore_user(db, principal, user_id=usr_id, origin=origin)


@router.post(
    "/users/{usr_id}/roles",
    responses=problem_responses(*_STAFF_ERRORS, UserNotFound, StaffActionRefused),
)
async def set_roles(
    usr_id: UserId,
    body: RolesUpdate,
    db: DatabaseDep,
    principal: StaffPrincipal,
    tokens: Tokens,
    origin: RequestOrigin,
) -> AdminUser:
    """Sets every role the person holds. Only a super may grant or revoke admin or super;
    a removal signs the person out everywhere so it takes effect at once."""
    return await service.set_roles(
        db, principal, tokens, user_id=usr_id, roles=body.roles, origin=origin
    )


@router.get("/audit", responses=problem_responses(*_STAFF_ERRORS, InvalidCursor))
async def list_audit(
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
    paging: Paging,
    actor: Annotated[UserId | None, Query(description="Who acted")] = None,
    target_type: Annotated[str | None, Query(pattern=r"^[a-z_]{1,40}$")] = None,
    target_id: Annotated[AnyId | None, Query(description="usr_... or any id, or a UUID")] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
) -> Page[AuditRecordOut]:
    """The audit trail, newest first."""
    return await service.list_audit(
        db,
        principal,
        params=paging,
        origin=origin,
        actor_id=actor,
        target_type=target_type,
        target_id=target_id,
        action=action,
    )

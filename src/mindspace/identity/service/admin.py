"""Staff work on accounts: find, inspect, suspend, restore, change roles; read the audit trail.

Every function opens its own `admin_session`: the only way staff see past row-level security,
and it writes the audit record (actor, action, target, IP, user agent, time) in the same
transaction as the act. A refused attempt keeps its audit records (StaffActionRefused).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import StaffActionRefused, UserNotFound
from mindspace.identity.models import UserAccount
from mindspace.identity.schemas import AdminUser, AuditRecordOut
from mindspace.identity.service.accounts import ACTIVE, SUSPENDED, end_all_sessions
from mindspace.identity.tokens import TokenService
from mindspace.platform import audit, ids
from mindspace.platform.audit import AuditRecord, Origin, admin_session
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database
from mindspace.platform.pagination import Page, PageParams, keyset, page
from mindspace.platform.security import STAFF_ROLES, Principal, Role

USER_TARGET = "user"
# How audit targets are shown on the wire; a kind missing here is shown as a bare UUID.
_TARGET_PREFIXES = {"user": "usr", "session": "ses"}

_ADMIN_USER_COLUMNS = (
    UserAccount.id,
    UserAccount.email,
    UserAccount.email_verified_at,
    UserAccount.roles,
    UserAccount.status,
    UserAccount.display_name,
    UserAccount.profile_visibility,
    UserAccount.created_at,
    UserAccount.suspended_at,
    UserAccount.suspension_reason,
)


def _admin_user(values: Any) -> AdminUser:
    return AdminUser.model_validate(
        {**values, "email_verified": values["email_verified_at"] is not None}
    )


def _from_account(user: UserAccount) -> AdminUser:
    return _admin_user({c.key: getattr(user, c.key) for c in _ADMIN_USER_COLUMNS})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def list_users(
    db: Database,
    principal: Principal,
    *,
    params: PageParams,
    origin: Origin,
    query: str | None = None,
    status: str | None = None,
    role: Role | None = None,
) -> Page[AdminUser]:
    """Accounts, newest first. `query` is a case-insensitive prefix of the email or the
    display name."""
    filters = {"q": query, "status": status, "role": role.value if role else None}
    async with admin_session(
        db,
        principal,
        action="user.list",
        target_type=USER_TARGET,
        origin=origin,
        details={k: v for k, v in filters.items() if v is not None},
    ) as session:
        stmt = select(*_ADMIN_USER_COLUMNS)
        if query:
            pattern = _escape_like(query.lower()) + "%"
            stmt = stmt.where(
                or_(
                    UserAccount.email.like(pattern, escape="\\"),
                    func.lower(UserAccount.display_name).like(pattern, escape="\\"),
                )
            )
        if status:
            stmt = stmt.where(UserAccount.status == status)
        if role:
            stmt = stmt.where(UserAccount.roles.contains([role.value]))
        rows = (await session.execute(keyset(stmt, params, UserAccount.id))).all()
    items = [_admin_user(r._mapping) for r in rows]
    return page(items, params, key=lambda item: (item.id,))


async def inspect_user(
    db: Database, principal: Principal, *, user_id: uuid.UUID, origin: Origin
) -> AdminUser:
    async with admin_session(
        db, principal, action="user.view", target_type=USER_TARGET, target_id=user_id, origin=origin
    ) as session:
        row = (
            await session.execute(select(*_ADMIN_USER_COLUMNS).where(UserAccount.id == user_id))
        ).first()
    if row is None:
        raise UserNotFound()
    return _admin_user(row._mapping)


async def _locked_account(session: AsyncSession, user_id: uuid.UUID) -> UserAccount:
    stmt = select(UserAccount).where(UserAccount.id == user_id).with_for_update()
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise UserNotFound()
    return user


def _refuse(
    session: AsyncSession,
    principal: Principal,
    *,
    action: str,
    target: uuid.UUID,
    origin: Origin,
    why: str,
) -> StaffActionRefused:
    # Kept despite the refusal (keeps_changes): an attempt to act above one's rank is exactly
    # what the trail is for.
    audit.record(
        session,
        actor=principal,
        action=f"{action}.refused",
        target_type=USER_TARGET,
        target_id=target,
        origin=origin,
        details={"why": why},
    )
    return StaffActionRefused(why)


def _moderation_refusal(principal: Principal, target: UserAccount) -> str | None:
    if target.id == principal.user_id:
        return "Staff cannot suspend or restore their own account."
    if set(target.roles) & STAFF_ROLES and not principal.has(Role.super):
        return "Only a super can suspend or restore a staff account."
    return None


async def suspend_user(
    db: Database,
    principal: Principal,
    tokens: TokenService,
    *,
    user_id: uuid.UUID,
    reason: str,
    origin: Origin,
) -> AdminUser:
    """Suspends an account: it cannot sign in, and every session ends now, so its access
    tokens stop working at the next request. Suspending a suspended account changes nothing."""
    action = "user.suspend"
    async with admin_session(
        db,
        principal,
        action=action,
        target_type=USER_TARGET,
        target_id=user_id,
        origin=origin,
        details={"reason": reason},
    ) as session:
        user = await _locked_account(session, user_id)
        why = _moderation_refusal(principal, user)
        if why:
            raise _refuse(session, principal, action=action, target=user_id, origin=origin, why=why)
        if user.status == ACTIVE:
            user.status = SUSPENDED
            user.suspended_at = utc_now()
            user.suspension_reason = reason
            await end_all_sessions(session, tokens, user.id, "suspended")
            # No origin: the person's log must not show staff members' addresses.
            activity.record(session, user.id, ActivityKind.suspended)
            await session.flush()
        return _from_account(user)


async def restore_user(
    db: Database, principal: Principal, *, user_id: uuid.UUID, origin: Origin
) -> AdminUser:
    """Lifts a suspension; the person signs in again as usual. Restoring an active account
    changes nothing."""
    action = "user.restore"
    async with admin_session(
        db, principal, action=action, target_type=USER_TARGET, target_id=user_id, origin=origin
    ) as session:
        user = await _locked_account(session, user_id)
        why = _moderation_refusal(principal, user)
        if why:
            raise _refuse(session, principal, action=action, target=user_id, origin=origin, why=why)
        if user.status == SUSPENDED:
            user.status = ACTIVE
            user.suspended_at = None
            user.suspension_reason = None
            activity.record(session, user.id, ActivityKind.restored)
            await session.flush()
        return _from_account(user)


def _names(roles: set[Role]) -> list[str]:
    return sorted(r.value for r in roles)


def _role_refusal(principal: Principal, target: UserAccount, changed: set[Role]) -> str | None:
    if target.id == principal.user_id:
        return "Staff cannot change their own roles."
    if changed & STAFF_ROLES and not principal.has(Role.super):
        return "Only a super can grant or revoke admin and super."
    return None


async def set_roles(
    db: Database,
    principal: Principal,
    tokens: TokenService,
    *,
    user_id: uuid.UUID,
    roles: list[Role],
    origin: Origin,
) -> AdminUser:
    """Sets the full set of roles a person holds (`member` always stays). Only a super may
    grant or revoke admin or super; admins may grant and revoke expert.

    Roles travel inside access tokens, so a removal ends the person's sessions: a demotion
    takes effect now, not when their last token expires. A grant shows at the next refresh."""
    wanted = {Role.member, *roles}
    action = "user.roles.set"
    async with admin_session(
        db,
        principal,
        action=action,
        target_type=USER_TARGET,
        target_id=user_id,
        origin=origin,
        details={"roles": _names(wanted)},
    ) as session:
        user = await _locked_account(session, user_id)
        current = {Role(r) for r in user.roles}
        added, removed = wanted - current, current - wanted
        why = _role_refusal(principal, user, added | removed)
        if why:
            raise _refuse(session, principal, action=action, target=user_id, origin=origin, why=why)
        if added or removed:
            user.roles = _names(wanted)
            if removed:
                await end_all_sessions(session, tokens, user.id, "roles_changed")
            change = {"added": _names(added), "removed": _names(removed)}
            audit.record(
                session,
                actor=principal,
                action="user.roles.changed",
                target_type=USER_TARGET,
                target_id=user_id,
                origin=origin,
                details=change,
            )
            activity.record(session, user.id, ActivityKind.roles_changed, details=change)
            await session.flush()
        return _from_account(user)


def _target_public_id(target_type: str | None, target_id: uuid.UUID | None) -> str | None:
    if target_id is None:
        return None
    prefix = _TARGET_PREFIXES.get(target_type or "")
    return ids.encode(prefix, target_id) if prefix else str(target_id)


def _audit_query(
    *,
    actor_id: uuid.UUID | None,
    target_type: str | None,
    target_id: uuid.UUID | None,
    action: str | None,
) -> Select[Any]:
    stmt = select(
        AuditRecord.id,
        AuditRecord.actor_id,
        AuditRecord.action,
        AuditRecord.target_type,
        AuditRecord.target_id,
        AuditRecord.ip,
        AuditRecord.user_agent,
        AuditRecord.details,
        AuditRecord.occurred_at,
    )
    if actor_id is not None:
        stmt = stmt.where(AuditRecord.actor_id == actor_id)
    if target_type is not None:
        stmt = stmt.where(AuditRecord.target_type == target_type)
    if target_id is not None:
        stmt = stmt.where(AuditRecord.target_id == target_id)
    if action is not None:
        stmt = stmt.where(AuditRecord.action == action)
    return stmt


async def list_audit(
    db: Database,
    principal: Principal,
    *,
    params: PageParams,
    origin: Origin,
    actor_id: uuid.UUID | None = None,
    target_type: str | None = None,
    target_id: uuid.UUID | None = None,
    action: str | None = None,
) -> Page[AuditRecordOut]:
    """The audit trail, newest first. Reading it is itself audited (`audit.list`)."""
    filters: dict[str, Any] = {
        "actor_id": str(actor_id) if actor_id else None,
        "target_type": target_type,
        "target_id": str(target_id) if target_id else None,
        "action": action,
    }
    stmt = _audit_query(
        actor_id=actor_id, target_type=target_type, target_id=target_id, action=action
    )
    async with admin_session(
        db,
        principal,
        action="audit.list",
        origin=origin,
        details={k: v for k, v in filters.items() if v is not None},
    ) as session:
        rows = (await session.execute(keyset(stmt, params, AuditRecord.id))).all()
    items = [
        AuditRecordOut.model_validate(
            {**r._mapping, "target_id": _target_public_id(r.target_type, r.target_id)}
        )
        for r in rows
    ]
    return page(items, params, key=lambda item: (item.id,))

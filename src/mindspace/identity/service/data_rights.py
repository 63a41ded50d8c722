"""A person's data rights: take all of it with them, or have all of it erased.

Export: a request (after a fresh step-up) writes a pending row and an outbox event; a job
gathers every domain's part *in the person's own scope* (row-level security on, as if they had
asked each domain themselves), writes one archive, and emails a link that works once, for them
only, until it expires.

Deletion: the person is signed out everywhere and hidden at once; after a grace period the
erasure job deletes their account row, and with it (foreign keys, ON DELETE CASCADE) every row
they own in every domain. Signing in during the grace period cancels it. The audit trail stays.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import uuid
import zipfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity, repository
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import (
    ExportLinkInvalid,
    ExportNotFound,
    ExportNotReady,
    UserNotFound,
)
from mindspace.identity.models import DataExport, UserAccount
from mindspace.identity.schemas import DataExportOut, DeletionScheduled
from mindspace.identity.service.accounts import PENDING_DELETION, end_all_sessions
from mindspace.identity.tokens import TokenService
from mindspace.platform import audit, messaging, outbox
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import encode, new_id
from mindspace.platform.messaging import Channel
from mindspace.platform.outbox import DomainEvent
from mindspace.platform.pagination import Page, PageParams, keyset, page
from mindspace.platform.security import Principal
from mindspace.platform.storage import Storage

DELETION_GRACE = timedelta(days=7)
EXPORT_LINK_LIFETIME = timedelta(hours=24)
EXPORT_PREFIX = "exp"
# Each domain's part of an export: JSON-ready data read in the person's own scope.
Exporter = Callable[[AsyncSession, Principal], Awaitable[dict[str, Any]]]


class ExportRequested(DomainEvent):
    topic: ClassVar[str] = "identity.export_requested"
    export_id: uuid.UUID


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _export_out(row: DataExport) -> DataExportOut:
    return DataExportOut.model_validate(row, from_attributes=True)


async def request_export(
    session: AsyncSession, principal: Principal, *, origin: Origin
) -> DataExportOut:
    export = DataExport(id=new_id(), owner_id=principal.user_id, status="pending")
    session.add(export)
    await session.flush()
    outbox.publish(session, ExportRequested(export_id=export.id), owner_id=principal.user_id)
    activity.record(session, principal.user_id, ActivityKind.export_requested, origin=origin)
    await session.refresh(export)
    return _export_out(export)


def readable_exports(principal: Principal) -> Select[DataExport]:
    return select(DataExport).where(DataExport.owner_id == principal.user_id)


async def list_exports(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Page[DataExportOut]:
    stmt = keyset(readable_exports(principal), params, DataExport.id)
    rows = [_export_out(r) for r in (await session.execute(stmt)).scalars()]
    return page(rows, params, key=lambda item: (item.id,))


async def _own_export(
    session: AsyncSession, principal: Principal, export_id: uuid.UUID
) -> DataExport:
    stmt = readable_exports(principal).where(DataExport.id == export_id).with_for_update()
    export = (await session.execute(stmt)).scalar_one_or_none()
    if export is None:
        raise ExportNotFound()
    return export


async def get_export(
    session: AsyncSession, principal: Principal, *, export_id: uuid.UUID
) -> DataExportOut:
    return _export_out(await _own_export(session, principal, export_id))


async def download_export(
    session: AsyncSession,
    principal: Principal,
    storage: Storage,
    *,
    export_id: uuid.UUID,
    token: str,
) -> bytes:
    """The archive, once: the token is spent by this call, and the file removed after it."""
    export = await _own_export(session, principal, export_id)
    if export.status == "pending":
        raise ExportNotReady()
    now = utc_now()
    valid = (
        export.status == "ready"
        and export.download_token_hash is not None
        and secrets.compare_digest(export.download_token_hash, _hash(token))
        and export.expires_at is not None
        and export.expires_at > now
        and export.file_key is not None
    )
    if not valid or export.file_key is None:
        raise ExportLinkInvalid()
    data = await storage.get(export.file_key)
    export.status = "downloaded"
    export.downloaded_at = now
    export.download_token_hash = None
    return data


async def build_export(
    db: Database,
    storage: Storage,
    exporters: dict[str, Exporter],
    *,
    export_id: uuid.UUID,
    base_url: str,
) -> None:
    """The job body. Idempotent: an export already built is left alone."""
    async with db.session(None, scope=DbScope.system) as session:
        export = await session.get(DataExport, export_id)
        if export is None or export.status != "pending":
            return
        owner_id = export.owner_id
        user = await session.get(UserAccount, owner_id)
        if user is None:
            return
    principal = Principal(user_id=owner_id)
    parts: dict[str, Any] = {}
    for name, exporter in exporters.items():
        async with db.session(principal) as session:
            parts[name] = await exporter(session, principal)
    archive = _zip(parts)
    key = f"exports/{owner_id.hex}/{export_id.hex}.zip"
    await storage.put(key, archive, "application/zip")
    token = secrets.token_urlsafe(32)
    async with db.session(None, scope=DbScope.system) as session:
        export = await session.get(DataExport, export_id, with_for_update=True)
        if export is None or export.status != "pending":
            return
        export.status = "ready"
        export.file_key = key
        export.ready_at = utc_now()
        export.expires_at = export.ready_at + EXPORT_LINK_LIFETIME
        export.download_token_hash = _hash(token)
        if user.email:
            link = (
                f"{base_url}/api/v1/users/me/exports/{encode(EXPORT_PREFIX, export_id)}"
                f"/download?token={token}"
            )
            messaging.queue(
                session,
                channel=Channel.email,
                recipient=user.email,
                purpose="data_export_ready",
                subject="Your Mindspace data is ready",
                body=(
                    "The copy of your data you asked for is ready. Sign in, then open this link "
                    f"within 24 hours; it works once:\n\n{link}\n"
                ),
                user_id=owner_id,
            )


def _zip(parts: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(parts.items()):
            archive.writestr(f"{name}.json", json.dumps(data, indent=2, default=str))
    return buffer.getvalue()


async def request_deletion(
    session: AsyncSession, principal: Principal, tokens: TokenService, *, origin: Origin
) -> DeletionScheduled:
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    user.status = PENDING_DELETION
    user.deletion_due_at = utc_now() + DELETION_GRACE
    activity.record(session, user.id, ActivityKind.deletion_requested, origin=origin)
    audit.record(
        session,
        actor=principal,
        action="user.deletion_requested",
        target_type="user",
        target_id=user.id,
        origin=origin,
    )
    await end_all_sessions(session, tokens, user.id, "account_deletion")
    return DeletionScheduled(due_at=user.deletion_due_at)


async def erase_due_accounts(
    db: Database, storage: Storage, *, owned_files: Callable[[UserAccount], list[str]]
) -> int:
    """The erasure job body: deletes every account whose grace period has passed, then the
    files they owned (after the commit: a failed erasure must not leave rows without files)."""
    files: list[str] = []
    async with db.session(None, scope=DbScope.system) as session:
        due = (
            (
                await session.execute(
                    select(UserAccount)
                    .where(
                        UserAccount.status == PENDING_DELETION,
                        UserAccount.deletion_due_at <= utc_now(),
                    )
                    .with_for_update(skip_locked=True)
                    .limit(100)
                )
            )
            .scalars()
            .all()
        )
        for user in due:
            files.extend(owned_files(user))
            export_files = await session.execute(
                select(DataExport.file_key).where(
                    DataExport.owner_id == user.id, DataExport.file_key.is_not(None)
                )
            )
            files.extend(k for k in export_files.scalars() if k)
            audit.record(
                session, actor=None, action="user.erased", target_type="user", target_id=user.id
            )
            await session.delete(user)
    for key in files:
        await storage.delete(key)
    return len(due)

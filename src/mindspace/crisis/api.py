"""The crisis domain's HTTP surface: my trusted contacts, and the staff's alert queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from mindspace.crisis import service
from mindspace.crisis.errors import (
    AlertAlreadyResolved,
    AssigneeNotStaff,
    CrisisAlertNotFound,
    TooManyTrustedContacts,
    TrustedContactNotFound,
)
from mindspace.crisis.schemas import (
    AlertStatus,
    AssignRequest,
    ContactNoticeOut,
    CrisisAlertDetail,
    CrisisAlertId,
    CrisisAlertOut,
    NoteRequest,
    Severity,
    TrustedContactCreate,
    TrustedContactId,
    TrustedContactOut,
    TrustedContactUpdate,
)
from mindspace.platform.errors import Forbidden, Unauthenticated, problem_responses
from mindspace.platform.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.web import (
    CurrentPrincipal,
    DatabaseDep,
    KeyVault,
    RequestOrigin,
    StaffPrincipal,
    UserSession,
)

router = APIRouter()
contacts = APIRouter(prefix="/trusted-contacts", tags=["safety"])
admin = APIRouter(prefix="/admin/crisis-alerts", tags=["admin"])
_STAFF_ERRORS = (Unauthenticated, Forbidden)


@contacts.get("", responses=problem_responses(Unauthenticated))
async def list_contacts(
    session: UserSession, principal: CurrentPrincipal
) -> list[TrustedContactOut]:
    """The people I chose. At most ten, so no paging."""
    return await service.list_contacts(session, principal)


@contacts.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated, TooManyTrustedContacts, *IDEMPOTENCY_ERRORS),
    dependencies=[Idempotent],
)
async def add_contact(
    body: TrustedContactCreate, session: UserSession, principal: CurrentPrincipal
) -> TrustedContactOut:
    """`notify_in_crisis` is my consent, for this contact only, to be told when I may be in
    danger. Without it the contact is never messaged."""
    return await service.add_contact(session, principal, **body.model_dump())


@contacts.get("/notices", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_notices(
    session: UserSession, principal: CurrentPrincipal, paging: Paging
) -> Page[ContactNoticeOut]:
    """Every time one of my contacts was told, newest first."""
    return await service.list_notices(session, principal, params=paging)


@contacts.get("/{tct_id}", responses=problem_responses(Unauthenticated, TrustedContactNotFound))
async def get_contact(
    tct_id: TrustedContactId, session: UserSession, principal: CurrentPrincipal
) -> TrustedContactOut:
    return await service.get_contact(session, principal, contact_id=tct_id)


@contacts.patch("/{tct_id}", responses=problem_responses(Unauthenticated, TrustedContactNotFound))
async def update_contact(
    tct_id: TrustedContactId,
    body: TrustedContactUpdate,
    session: UserSession,
    principal: CurrentPrincipal,
) -> TrustedContactOut:
    return await service.update_contact(
        session, principal, contact_id=tct_id, changes=body.model_dump(exclude_unset=True)
    )


@contacts.delete(
    "/{tct_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthenticated, TrustedContactNotFound),
)
async def remove_contact(
    tct_id: TrustedContactId, session: UserSession, principal: CurrentPrincipal
) -> None:
    await service.remove_contact(session, principal, contact_id=tct_id)


@admin.get("", responses=problem_responses(*_STAFF_ERRORS, InvalidCursor))
async def list_alerts(
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
    paging: Paging,
    status: Annotated[AlertStatus | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
) -> Page[CrisisAlertOut]:
    """The crisis queue: high risk first, then elevated concern, each newest first. Every look
    is audited. What the person wrote is only in the view of one alert."""
    return await service.list_alerts(
        db, principal, params=paging, origin=origin, status=status, severity=severity
    )


@admin.get("/{cra_id}", responses=problem_responses(*_STAFF_ERRORS, CrisisAlertNotFound))
async def get_alert(
    cra_id: CrisisAlertId,
    db: DatabaseDep,
    principal: StaffPrincipal,
    vault: KeyVault,
    origin: RequestOrigin,
) -> CrisisAlertDetail:
    """One alert, with the excerpt of what the person wrote (null once purged after the
    alert was resolved). Every look is audited."""
    return await service.get_alert(db, principal, vault, alert_id=cra_id, origin=origin)


@admin.post(
    "/{cra_id}/assign",
    responses=problem_responses(
        *_STAFF_ERRORS, CrisisAlertNotFound, AlertAlreadyResolved, AssigneeNotStaff
    ),
)
async def assign_alert(
    cra_id: CrisisAlertId,
    body: AssignRequest,
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
) -> CrisisAlertOut:
    """Takes the alert (or hands it to another staff member)."""
    return await service.assign_alert(
        db, principal, alert_id=cra_id, assignee_id=body.assignee_id, origin=origin
    )


@admin.post(
    "/{cra_id}/review",
    responses=problem_responses(*_STAFF_ERRORS, CrisisAlertNotFound, AlertAlreadyResolved),
)
async def review_alert(
    cra_id: CrisisAlertId,
    body: NoteRequest,
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
) -> CrisisAlertOut:
    return await service.review_alert(db, principal, alert_id=cra_id, note=body.note, origin=origin)


@admin.post(
    "/{cra_id}/resolve",
    responses=problem_responses(*_STAFF_ERRORS, CrisisAlertNotFound, AlertAlreadyResolved),
)
async def resolve_alert(
    cra_id: CrisisAlertId,
    body: NoteRequest,
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
) -> CrisisAlertOut:
    return await service.resolve_alert(
        db, principal, alert_id=cra_id, note=body.note, origin=origin
    )


router.include_router(contacts)
router.include_router(admin)

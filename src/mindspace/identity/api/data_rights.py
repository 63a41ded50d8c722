from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from mindspace.identity.auth import SteppedUpPrincipal, Tokens
from mindspace.identity.errors import ExportLinkInvalid, ExportNotFound, ExportNotReady
from mindspace.identity.schemas import DataExportOut, DeletionScheduled, ExportId
from mindspace.identity.service import data_rights
from mindspace.platform.errors import Forbidden, RateLimited, Unauthenticated, problem_responses
from mindspace.platform.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from mindspace.platform.pagination import Page, Paging
from mindspace.platform.ratelimit import rate_limit
from mindspace.platform.web import CurrentPrincipal, FileStorage, RequestOrigin, UserSession

router = APIRouter(prefix="/users/me", tags=["data rights"])


@router.post(
    "/exports",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(Unauthenticated, Forbidden, RateLimited, *IDEMPOTENCY_ERRORS),
    # The key first: a replay answers before the daily limit counts it.
    dependencies=[Idempotent, Depends(rate_limit("3/day", name="data_export", per="principal"))],
)
async def request_export(
    session: UserSession, principal: SteppedUpPrincipal, origin: RequestOrigin
) -> DataExportOut:
    """Starts a copy of everything you have in Mindspace. Needs a fresh step-up; the download
    link arrives by email."""
    return await data_rights.request_export(session, principal, origin=origin)


@router.get("/exports", responses=problem_responses(Unauthenticated))
async def list_exports(
    session: UserSession, principal: CurrentPrincipal, paging: Paging
) -> Page[DataExportOut]:
    return await data_rights.list_exports(session, principal, paging)


@router.get("/exports/{export_id}", responses=problem_responses(Unauthenticated, ExportNotFound))
async def get_export(
    export_id: ExportId, session: UserSession, principal: CurrentPrincipal
) -> DataExportOut:
    return await data_rights.get_export(session, principal, export_id=export_id)


@router.get(
    "/exports/{export_id}/download",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The archive"},
        **problem_responses(Unauthenticated, ExportNotFound, ExportNotReady, ExportLinkInvalid),
    },
)
async def download_export(
    export_id: ExportId,
    token: Annotated[str, Query(min_length=20, max_length=100)],
    session: UserSession,
    principal: CurrentPrincipal,
    storage: FileStorage,
) -> Response:
    data = await data_rights.download_export(
        session, principal, storage, export_id=export_id, token=token
    )
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="mindspace-data.zip"'},
    )


@router.post(
    "/deletion",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(Unauthenticated, Forbidden),
)
async def request_deletion(
    session: UserSession, principal: SteppedUpPrincipal, tokens: Tokens, origin: RequestOrigin
) -> DeletionScheduled:
    """Signs you out everywhere and hides your account at once; everything is erased after
    seven days. Sign in before then to keep it."""
    return await data_rights.request_deletion(session, principal, tokens, origin=origin)

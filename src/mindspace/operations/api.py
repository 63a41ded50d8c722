"""The staff surface for background work. Admins and supers only (403 for others)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mindspace.operations import service
from mindspace.operations.errors import FailedJobNotFound, StuckEventNotFound
from mindspace.operations.schemas import EventId, Job, JobId, RetryRequest, StuckEvent
from mindspace.platform.errors import Forbidden, Unauthenticated, problem_responses
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.web import DatabaseDep, RequestOrigin, StaffPrincipal

router = APIRouter(prefix="/admin", tags=["admin"])

_STAFF_ERRORS = (Unauthenticated, Forbidden)
TaskName = Annotated[
    str | None,
    Query(pattern=r"^[a-z_]{1,40}:[a-z_]{1,80}$", description="e.g. identity:build_export"),
]


@router.get("/jobs/failed", responses=problem_responses(*_STAFF_ERRORS, InvalidCursor))
async def list_failed_jobs(
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
    paging: Paging,
    task: TaskName = None,
) -> Page[Job]:
    """Background jobs whose retries ran out, newest first."""
    return await service.list_failed_jobs(
        db, principal, params=paging, origin=origin, task_name=task
    )


@router.post("/jobs/{job_id}/retry", responses=problem_responses(*_STAFF_ERRORS, FailedJobNotFound))
async def retry_job(
    job_id: JobId,
    body: RetryRequest,
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
) -> Job:
    """Queues a failed job to run again now."""
    return await service.retry_job(db, principal, job_id=job_id, reason=body.reason, origin=origin)


@router.get("/events/stuck", responses=problem_responses(*_STAFF_ERRORS, InvalidCursor))
async def list_stuck_events(
    db: DatabaseDep, principal: StaffPrincipal, origin: RequestOrigin, paging: Paging
) -> Page[StuckEvent]:
    """Domain events whose delivery attempts ran out, newest first."""
    return await service.list_stuck_events(db, principal, params=paging, origin=origin)


@router.post(
    "/events/{evt_id}/retry", responses=problem_responses(*_STAFF_ERRORS, StuckEventNotFound)
)
async def retry_event(
    evt_id: EventId,
    body: RetryRequest,
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
) -> StuckEvent:
    """Delivers a stuck event again, with a fresh set of attempts. Consumers that had already
    processed it do not process it again."""
    return await service.retry_event(
        db, principal, event_id=evt_id, reason=body.reason, origin=origin
    )

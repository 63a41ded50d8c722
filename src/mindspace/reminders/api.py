"""The signed-in person's reminders, under /reminders."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from mindspace.platform.errors import Unauthenticated, problem_responses
from mindspace.platform.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.web import CurrentPrincipal, UserSession
from mindspace.reminders import service
from mindspace.reminders.errors import InvalidSchedule, ReminderNotFound
from mindspace.reminders.schemas import Reminder, ReminderCreate, ReminderId, ReminderUpdate

router = APIRouter(prefix="/reminders", tags=["reminders"])

_TIMING = (
    " Times are local wall-clock times in the reminder's time zone and stay so across "
    "daylight-saving changes: a time the clocks skip fires at the jump, a time that happens "
    "twice fires once, the first time. After downtime, a reminder that missed several "
    "occurrences fires once (not once per missed occurrence), then keeps its schedule."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated, InvalidSchedule, *IDEMPOTENCY_ERRORS),
    dependencies=[Idempotent],
    description="Schedules: `{type: daily, time: '20:00'}`, "
    "`{type: weekly, days: [mon, wed, fri], time: '07:30'}`, or any RFC 5545 rule "
    "`{type: rrule, rrule: 'FREQ=MONTHLY;BYDAY=1SU;BYHOUR=10', start: '2026-12-06T00:00'}` "
    "(DAILY to YEARLY, at most once every 15 minutes). The time zone defaults to your "
    "profile's." + _TIMING,
)
async def create_reminder(
    body: ReminderCreate, session: UserSession, principal: CurrentPrincipal
) -> Reminder:
    """Set a reminder."""
    return await service.create_reminder(session, principal, data=body)


@router.get("", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_reminders(
    session: UserSession, principal: CurrentPrincipal, paging: Paging
) -> Page[Reminder]:
    """Your reminders, newest first."""
    return await service.list_reminders(session, principal, paging)


@router.get(
    "/{reminder_id}",
    responses=problem_responses(Unauthenticated, ReminderNotFound),
    description=_TIMING.strip(),
)
async def get_reminder(
    reminder_id: ReminderId, session: UserSession, principal: CurrentPrincipal
) -> Reminder:
    """One reminder, with its next few firings."""
    return await service.get_reminder(session, principal, reminder_id=reminder_id)


@router.patch(
    "/{reminder_id}",
    responses=problem_responses(Unauthenticated, ReminderNotFound, InvalidSchedule),
)
async def update_reminder(
    reminder_id: ReminderId,
    body: ReminderUpdate,
    session: UserSession,
    principal: CurrentPrincipal,
) -> Reminder:
    """Change a reminder. A new schedule or time zone moves the next firing."""
    return await service.update_reminder(session, principal, reminder_id=reminder_id, changes=body)


@router.post("/{reminder_id}/pause", responses=problem_responses(Unauthenticated, ReminderNotFound))
async def pause_reminder(
    reminder_id: ReminderId, session: UserSession, principal: CurrentPrincipal
) -> Reminder:
    """Stop a reminder firing until it is resumed."""
    return await service.pause_reminder(session, principal, reminder_id=reminder_id)


@router.post(
    "/{reminder_id}/resume", responses=problem_responses(Unauthenticated, ReminderNotFound)
)
async def resume_reminder(
    reminder_id: ReminderId, session: UserSession, principal: CurrentPrincipal
) -> Reminder:
    """Fire again from now on; what fell due while paused does not fire."""
    return await service.resume_reminder(session, principal, reminder_id=reminder_id)


@router.delete(
    "/{reminder_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthenticated, ReminderNotFound),
)
async def delete_reminder(
    reminder_id: ReminderId, session: UserSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_reminder(session, principal, reminder_id=reminder_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

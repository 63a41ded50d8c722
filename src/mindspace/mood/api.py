"""Mood's HTTP surface under /mood: thin routes over mood.service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from mindspace.mood import charts, service
from mindspace.mood.errors import (
    ActivityLimitReached,
    ActivityNameTaken,
    ActivityNotFound,
    CheckinNotFound,
)
from mindspace.mood.schemas import (
    Activities,
    ActivityCreate,
    ActivityId,
    Checkin,
    CheckinCreate,
    CheckinId,
    CheckinUpdate,
    CustomActivity,
    Granularity,
    Insights,
    MoodSettings,
    MoodSettingsUpdate,
    SavedCheckin,
    Streak,
    Trend,
    YearInPixels,
)
from mindspace.platform.errors import Unauthenticated, problem_responses
from mindspace.platform.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.web import (
    CurrentPrincipal,
    DatabaseDep,
    KeyVault,
    UserReader,
    UserSession,
)

router = APIRouter(prefix="/mood", tags=["mood"])

StartDay = Annotated[
    date | None, Query(description="First local day, included (default: 29 days before end)")
]
EndDay = Annotated[date | None, Query(description="Last local day, included (default: today)")]
Year = Annotated[int, Path(ge=2000, le=2100)]
_SVG: dict[int | str, dict[str, Any]] = {
    200: {"content": {charts.SVG_MEDIA_TYPE: {}}, "description": "An SVG image"}
}


@router.post(
    "/checkins",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated, *IDEMPOTENCY_ERRORS),
    dependencies=[Idempotent],
)
async def create_checkin(
    body: CheckinCreate, session: UserSession, principal: CurrentPrincipal
) -> SavedCheckin:
    """A check-in; `{"score": 6}` alone is a quick one. `logged_at` may be back-dated."""
    return await service.create_checkin(session, principal, checkin=body)


@router.get("/checkins", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_checkins(
    session: UserSession,
    principal: CurrentPrincipal,
    paging: Paging,
    start: Annotated[date | None, Query(description="First local day, included")] = None,
    end: Annotated[date | None, Query(description="Last local day, included")] = None,
) -> Page[Checkin]:
    """Newest first; days are the person's, by their timezone and day boundary hour."""
    return await service.list_checkins(session, principal, paging, start=start, end=end)


@router.get("/checkins/{checkin_id}", responses=problem_responses(Unauthenticated, CheckinNotFound))
async def get_checkin(
    checkin_id: CheckinId, reader: UserReader, principal: CurrentPrincipal, vault: KeyVault
) -> Checkin:
    return await service.get_checkin(reader, principal, vault, checkin_id=checkin_id)


@router.patch(
    "/checkins/{checkin_id}", responses=problem_responses(Unauthenticated, CheckinNotFound)
)
async def update_checkin(
    checkin_id: CheckinId, body: CheckinUpdate, session: UserSession, principal: CurrentPrincipal
) -> SavedCheckin:
    return await service.update_checkin(session, principal, checkin_id=checkin_id, changes=body)


@router.delete(
    "/checkins/{checkin_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthenticated, CheckinNotFound),
)
async def delete_checkin(
    checkin_id: CheckinId, session: UserSession, principal: CurrentPrincipal
) -> None:
    await service.delete_checkin(session, principal, checkin_id=checkin_id)


@router.get("/activities", responses=problem_responses(Unauthenticated))
async def list_activities(session: UserSession, principal: CurrentPrincipal) -> Activities:
    """The built-in activities and the person's own."""
    return await service.list_activities(session, principal)


@router.post(
    "/activities",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated, ActivityNameTaken, ActivityLimitReached),
)
async def create_activity(
    body: ActivityCreate, session: UserSession, principal: CurrentPrincipal
) -> CustomActivity:
    return await service.create_activity(session, principal, name=body.name)


@router.patch(
    "/activities/{activity_id}",
    responses=problem_responses(Unauthenticated, ActivityNotFound, ActivityNameTaken),
)
async def rename_activity(
    activity_id: ActivityId, body: ActivityCreate, session: UserSession, principal: CurrentPrincipal
) -> CustomActivity:
    return await service.rename_activity(
        session, principal, activity_id=activity_id, name=body.name
    )


@router.delete(
    "/activities/{activity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthenticated, ActivityNotFound),
)
async def delete_activity(
    activity_id: ActivityId, session: UserSession, principal: CurrentPrincipal
) -> None:
    """Removes it from the list and from the check-ins that named it; they stay."""
    await service.delete_activity(session, principal, activity_id=activity_id)


@router.get("/settings", responses=problem_responses(Unauthenticated))
async def get_settings(session: UserSession, principal: CurrentPrincipal) -> MoodSettings:
    return await service.get_settings(session, principal)


@router.patch("/settings", responses=problem_responses(Unauthenticated))
async def update_settings(
    body: MoodSettingsUpdate, session: UserSession, principal: CurrentPrincipal
) -> MoodSettings:
    """Freeze days: up to two missed days a month that bridge a gap in the streak."""
    return await service.update_settings(session, principal, changes=body)


@router.get("/insights", responses=problem_responses(Unauthenticated))
async def get_insights(
    db: DatabaseDep, principal: CurrentPrincipal, start: StartDay = None, end: EndDay = None
) -> Insights:
    """Averages, distributions, patterns, the streak and activity associations, in the
    person's timezone and day boundary. An association is reported only with enough days on
    both sides and when it survives a significance test with false discovery rate control."""
    return await service.get_insights(db, principal, start=start, end=end)


@router.get("/streak", responses=problem_responses(Unauthenticated))
async def get_streak(reader: UserReader, principal: CurrentPrincipal) -> Streak:
    return await service.get_streak(reader, principal)


@router.get("/charts/trend.svg", responses={**problem_responses(Unauthenticated), **_SVG})
async def trend_svg(
    reader: UserReader,
    principal: CurrentPrincipal,
    start: StartDay = None,
    end: EndDay = None,
    granularity: Granularity = "day",
) -> Response:
    trend = await service.get_trend(
        reader, principal, start=start, end=end, granularity=granularity
    )
    return Response(charts.trend_svg(trend), media_type=charts.SVG_MEDIA_TYPE)


@router.get("/charts/trend", responses=problem_responses(Unauthenticated))
async def trend(
    reader: UserReader,
    principal: CurrentPrincipal,
    start: StartDay = None,
    end: EndDay = None,
    granularity: Granularity = "day",
) -> Trend:
    return await service.get_trend(reader, principal, start=start, end=end, granularity=granularity)


# Before /charts/year/{year}: that route would take "2026.svg" for a year and refuse it.
@router.get("/charts/year/{year}.svg", responses={**problem_responses(Unauthenticated), **_SVG})
async def year_svg(year: Year, reader: UserReader, principal: CurrentPrincipal) -> Response:
    grid = await service.get_year_in_pixels(reader, principal, year=year)
    return Response(charts.year_svg(grid), media_type=charts.SVG_MEDIA_TYPE)


@router.get("/charts/year/{year}", responses=problem_responses(Unauthenticated))
async def year_in_pixels(
    year: Year, reader: UserReader, principal: CurrentPrincipal
) -> YearInPixels:
    """One cell per local day of the year: the day's average score, or null."""
    return await service.get_year_in_pixels(reader, principal, year=year)


@router.get(
    "/export.csv",
    responses={
        **problem_responses(Unauthenticated),
        200: {"content": {"text/csv": {}}, "description": "Every check-in as CSV"},
    },
)
async def export_csv(session: UserSession, principal: CurrentPrincipal) -> Response:
    body = await service.export_csv(session, principal)
    return Response(
        body,
        media_type=service.CSV_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="mindspace-mood.csv"'},
    )

"""The person's zone and day boundary, read through identity's service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import service as identity_service
from mindspace.mood.days import local_day
from mindspace.platform.clock import utc_now
from mindspace.platform.db import ReadConnection
from mindspace.platform.security import Principal


@dataclass(frozen=True, slots=True)
class DayRule:
    zone: ZoneInfo
    boundary_hour: int

    def today(self, now: datetime | None = None) -> date:
        return local_day(now or utc_now(), self.zone, self.boundary_hour)


async def day_rule(reader: ReadConnection, principal: Principal) -> DayRule:
    me = await identity_service.get_me(reader, principal)
    return DayRule(ZoneInfo(me.timezone), me.day_boundary_hour)


async def day_rule_in(session: AsyncSession, principal: Principal) -> DayRule:
    me = await identity_service.load_me(session, principal)
    return DayRule(ZoneInfo(me.timezone), me.day_boundary_hour)

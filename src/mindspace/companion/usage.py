"""What an ordinary message or template run uses up: the per-person rate limit, the plan's
daily quota, and an AI credit for a model's reply. Conversations and templates share these
rules; the crisis path never comes near them.

A template run counts toward the daily quota as one message. It is one question answered, most
often by a model, and a quota that runs could go around would not limit model use at all
(reframing a worry is a message by another door). A cached answer counts too, so the allowance
does not depend on what the cache happened to hold, which the person cannot see.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import repository
from mindspace.companion.credits import Credits, ModelReply, Paid, Reservation
from mindspace.companion.engines import Engine
from mindspace.companion.engines.scripted import ScriptedEngine
from mindspace.companion.entitlements import Limits
from mindspace.companion.errors import DailyQuotaReached
from mindspace.platform.clock import utc_now
from mindspace.platform.security import Principal

RATE_LIMIT_NAME = "companion"


def _today_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


async def within_limits(session: AsyncSession, principal: Principal, limits: Limits) -> None:
    """Counts one message or run against the rate limit; refuses past the day's quota."""
    await limits.throttle.hit(limits.rate, RATE_LIMIT_NAME, str(principal.user_id))
    plan = await limits.entitlements.plan_for(session, principal)
    used = await repository.count_daily_uses_since(session, principal, _today_start(utc_now()))
    if used >= plan.daily_messages:
        raise DailyQuotaReached(
            f"The {plan.name} plan includes {plan.daily_messages} messages a day (a template "
            "counts as one). If you are struggling right now, the crisis lines are always open, "
            "and so is this companion for anything about your safety."
        )


@dataclass(frozen=True, slots=True)
class Funded:
    """The engine that may answer, and the credit held for it when it is a model."""

    engine: Engine
    reservation: Reservation | None = None
    out_of_credits: bool = False


async def fund(
    session: AsyncSession, principal: Principal, credits: Credits, engine: Engine
) -> Funded:
    """A model engine keeps its place only with a credit reserved; without one the free
    scripted engine answers (nobody is paywalled mid-conversation)."""
    if engine.name == ScriptedEngine.name:
        return Funded(engine)
    reservation = await credits.reserve(session, principal)
    if reservation is None:
        return Funded(ScriptedEngine(), out_of_credits=True)
    return Funded(engine, reservation)


async def pay_for(
    session: AsyncSession,
    principal: Principal,
    credits: Credits,
    funded: Funded,
    *,
    paid: Paid,
    reply_id: uuid.UUID,
    engine: str,
    replaced: bool,
) -> bool:
    """Debits the reserved credit when the model's reply was sent as written: never for the
    scripted engine, a fallback after a provider failed, or a reply withheld as unsafe."""
    if funded.reservation is None or engine == ScriptedEngine.name or replaced:
        return False
    await session.flush()  # the reply the debit names exists in this transaction
    await credits.debit(
        session, principal, funded.reservation, reply=ModelReply(paid, reply_id, engine)
    )
    return True

"""What a person's plan allows in the companion: which paid personas and prompt templates, how
many messages a day.

The store and its subscriptions do not exist yet, so the only implementation says "free plan"
for everyone. The ledger will implement `Entitlements`, and `companion.credits.Credits` for the
AI credits a model reply costs; nothing else here needs to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion.credits import Credits
from mindspace.platform.security import Principal


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    daily_messages: int
    paid_personas: frozenset[str] = frozenset()
    paid_templates: frozenset[str] = frozenset()


class Entitlements(Protocol):
    async def plan_for(self, session: AsyncSession, principal: Principal) -> Plan: ...


class FreePlanForEveryone:
    def __init__(self, *, daily_messages: int) -> None:
        self._plan = Plan(name="free", daily_messages=daily_messages)

    async def plan_for(self, session: AsyncSession, principal: Principal) -> Plan:
        return self._plan


class Throttle(Protocol):
    """The per-person rate limit (platform.ratelimit.RateLimiter)."""

    async def hit(self, limit: str, *key: str, cost: int = 1) -> None: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Everything that may refuse, or downgrade, an ordinary message or template run. None of
    it applies to the crisis path."""

    throttle: Throttle
    rate: str
    entitlements: Entitlements
    credits: Credits

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


class Offer(Protocol):
    """A persona or a prompt template: free for everyone, or paid and in some plans."""

    @property
    def id(self) -> str: ...

    @property
    def paid(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    daily_messages: int
    paid_personas: frozenset[str] = frozenset()
    paid_templates: frozenset[str] = frozenset()

    def has_persona(self, persona: Offer) -> bool:
        return not persona.paid or persona.id in self.paid_personas

    def has_template(self, template: Offer) -> bool:
        return not template.paid or template.id in self.paid_templates


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

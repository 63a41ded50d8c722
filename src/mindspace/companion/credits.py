"""AI credits: what a model's reply costs a person on a pay-as-you-go plan. The seam the ledger
will implement; until it exists nothing is charged (`NothingCharged`).

Only a model's reply that the person actually receives is ever paid for. Never the scripted
engine, the scripted answer after a provider failed, a model reply withheld as unsafe (and
replaced), a crisis or safety response, or a cached template answer.

The contract, which the companion keeps and an implementation may rely on:
- `reserve` is called before a model is asked, in the request's transaction, and never on the
  crisis path. It may lock the person's balance (`SELECT … FOR UPDATE`) until that transaction
  ends, so two replies at once cannot both spend the last credit. A reservation that is never
  debited simply lapses with the transaction: there is nothing to release.
- `debit` is called at most once per reservation, only for a model reply sent as written, in
  the same transaction, after the stored reply it names has been flushed. A rollback takes the
  debit with it.
- No reservation (the person has no credits left) never refuses anyone: the free scripted
  engine answers instead, and the answer says so (`out_of_credits`).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.security import Principal


class Paid(enum.StrEnum):
    """What a credit pays for; with `ModelReply.id`, the ledger's reference."""

    companion_message = "companion_message"
    template_run = "companion_template_run"


@dataclass(frozen=True, slots=True)
class ModelReply:
    paid: Paid
    id: uuid.UUID
    engine: str  # the model engine that wrote it ("openai", "anthropic")


@dataclass(frozen=True, slots=True)
class Reservation:
    """Room for one model reply, held until the transaction ends."""

    credits: int  # what the reply will cost; 0 when the person's plan includes model replies


class Credits(Protocol):
    async def reserve(self, session: AsyncSession, principal: Principal) -> Reservation | None:
        """Room for one model reply, or None when the person has no credits left."""
        ...

    async def debit(
        self,
        session: AsyncSession,
        principal: Principal,
        reservation: Reservation,
        *,
        reply: ModelReply,
    ) -> None: ...


class NothingCharged:
    """Until the ledger exists: every model reply is included."""

    async def reserve(self, session: AsyncSession, principal: Principal) -> Reservation | None:
        return Reservation(credits=0)

    async def debit(
        self,
        session: AsyncSession,
        principal: Principal,
        reservation: Reservation,
        *,
        reply: ModelReply,
    ) -> None:
        return None

"""The catalogue, the daily prompt, and the prompts a person writes for themselves (sealed
like entries: a prompt can be as private as what it asks)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import service as identity_service
from mindspace.journal import prompts, repository
from mindspace.journal.errors import PromptNotFound
from mindspace.journal.models import PROMPT_TEXT, JournalPrompt
from mindspace.journal.schemas import CustomPrompt, DailyPrompt, Prompt
from mindspace.platform.clock import utc_now
from mindspace.platform.crypto import DataKey, Vault
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.security import Principal


def list_catalogue(*, theme: str | None = None) -> list[Prompt]:
    return [
        Prompt(id=p.id, theme=p.theme, text=p.text)
        for p in prompts.catalogue()
        if theme is None or p.theme == theme
    ]


def local_day(now: datetime, *, timezone: str, day_boundary_hour: int) -> date:
    """The person's "today": their timezone, and a day that may start after midnight (someone
    writing at 1 am is still in yesterday if their day starts at 4)."""
    return (now.astimezone(ZoneInfo(timezone)) - timedelta(hours=day_boundary_hour)).date()


async def get_daily_prompt(
    session: AsyncSession, principal: Principal, *, now: datetime | None = None
) -> DailyPrompt:
    me = await identity_service.load_me(session, principal)
    day = local_day(now or utc_now(), timezone=me.timezone, day_boundary_hour=me.day_boundary_hour)
    chosen = prompts.daily_prompt(principal.user_id.bytes, day)
    return DailyPrompt(day=day, prompt=Prompt(id=chosen.id, theme=chosen.theme, text=chosen.text))


def prompt_out(key: DataKey, row: JournalPrompt) -> CustomPrompt:
    return CustomPrompt(
        id=row.id,
        text=key.open_text(row.text_sealed, purpose=PROMPT_TEXT, row_id=row.id),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def create_prompt(
    session: AsyncSession, principal: Principal, vault: Vault, *, text: str
) -> CustomPrompt:
    key = await vault.data_key(session, principal.user_id)
    prompt_id, now = new_id(), utc_now()
    row = JournalPrompt(
        id=prompt_id,
        owner_id=principal.user_id,
        text_sealed=key.seal_text(text, purpose=PROMPT_TEXT, row_id=prompt_id),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return prompt_out(key, row)


async def _own(
    session: AsyncSession, principal: Principal, prompt_id: uuid.UUID, *, for_update: bool = False
) -> JournalPrompt:
    row = await repository.get_prompt(session, principal, prompt_id, for_update=for_update)
    if row is None:
        raise PromptNotFound()
    return row


async def get_prompt(
    session: AsyncSession, principal: Principal, vault: Vault, *, prompt_id: uuid.UUID
) -> CustomPrompt:
    row = await _own(session, principal, prompt_id)
    return prompt_out(await vault.data_key(session, principal.user_id), row)


async def list_prompts(
    session: AsyncSession, principal: Principal, vault: Vault, params: PageParams
) -> Page[CustomPrompt]:
    """The person's own prompts, newest first."""
    rows = await repository.list_prompts(session, principal, params)
    if not rows:
        return Page[CustomPrompt](items=[])
    key = await vault.data_key(session, principal.user_id)
    return page([prompt_out(key, r) for r in rows], params, key=lambda p: (p.id,))


async def update_prompt(
    session: AsyncSession, principal: Principal, vault: Vault, *, prompt_id: uuid.UUID, text: str
) -> CustomPrompt:
    row = await _own(session, principal, prompt_id, for_update=True)
    key = await vault.data_key(session, principal.user_id)
    row.text_sealed = key.seal_text(text, purpose=PROMPT_TEXT, row_id=row.id)
    row.updated_at = utc_now()
    await session.flush()
    return prompt_out(key, row)


async def delete_prompt(
    session: AsyncSession, principal: Principal, *, prompt_id: uuid.UUID
) -> None:
    """Entries written to the prompt stay; they no longer name it."""
    result = await session.execute(
        delete(JournalPrompt)
        .where(JournalPrompt.owner_id == principal.user_id, JournalPrompt.id == prompt_id)
        .returning(JournalPrompt.id)
    )
    if result.first() is None:
        raise PromptNotFound()

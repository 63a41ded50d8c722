"""A person's journal, opened, to take with them: JSON or Markdown on request, and the
journal's part of the account's data export."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.journal import repository
from mindspace.journal.models import JournalEntry
from mindspace.journal.sanitize import html_to_markdown, text_to_markdown
from mindspace.journal.schemas import Entry
from mindspace.journal.service.analysis import analysis_out
from mindspace.journal.service.custom_prompts import list_catalogue, prompt_out
from mindspace.journal.service.entries import open_joined
from mindspace.platform import crypto
from mindspace.platform.crypto import Vault
from mindspace.platform.security import Principal


async def all_entries(session: AsyncSession, principal: Principal, vault: Vault) -> list[Entry]:
    """Every entry of the person, oldest written first."""
    stmt = repository.readable_entries(principal).order_by(JournalEntry.written_at, JournalEntry.id)
    return [open_joined(vault, row._mapping) for row in await session.execute(stmt)]


async def export_json(
    session: AsyncSession, principal: Principal, vault: Vault
) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in await all_entries(session, principal, vault)]


async def export_markdown(session: AsyncSession, principal: Principal, vault: Vault) -> str:
    prompts = {p.id: p.text for p in list_catalogue()}
    parts = ["# My journal\n"]
    for entry in await all_entries(session, principal, vault):
        heading = text_to_markdown(entry.title) if entry.title else "Untitled"
        about = [f"*Written {entry.written_at:%Y-%m-%d %H:%M} UTC*"]
        if entry.mood:
            about.append(f"*Mood: {entry.mood.value.replace('_', ' ')}*")
        if entry.tags:
            about.append("*Tags: " + ", ".join(text_to_markdown(t) for t in entry.tags) + "*")
        lines = [f"## {heading}", "", "  \n".join(about), ""]
        if entry.prompt_id in prompts:
            lines += [f"> {text_to_markdown(prompts[entry.prompt_id])}", ""]
        lines += [html_to_markdown(entry.body), ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


async def export_journal(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """The journal's part of the account export (the Domain hook, read in the person's own
    scope). The hook is handed a session only: the vault is the one attached to its database."""
    vault = crypto.vault_for(session)
    entries = await export_json(session, principal, vault)
    prompt_rows = (await session.execute(repository.readable_prompts(principal))).scalars().all()
    key = await vault.find_data_key(session, principal.user_id)
    prompts = [prompt_out(key, r).model_dump(mode="json") for r in prompt_rows if key]
    analyses = (await session.execute(repository.readable_analyses(principal))).scalars().all()
    return {
        "entries": entries,
        "custom_prompts": prompts,
        "analyses": [analysis_out(a).model_dump(mode="json") for a in analyses],
    }

"""The journal's HTTP surface: thin routes over journal.service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import AwareDatetime

from mindspace.journal import service
from mindspace.journal.errors import (
    AnalysisNotFound,
    EmptyEntry,
    EntryNotFound,
    NothingToSearch,
    PromptNotFound,
    UnknownPrompt,
    WrittenInFuture,
)
from mindspace.journal.models import Mood
from mindspace.journal.schemas import (
    TAG_MAX_CHARS,
    CustomPrompt,
    CustomPromptCreate,
    CustomPromptId,
    CustomPromptUpdate,
    DailyPrompt,
    Entry,
    EntryAnalysis,
    EntryCreate,
    EntryFilters,
    EntryId,
    EntryUpdate,
    Prompt,
    PromptRef,
    SavedEntry,
)
from mindspace.platform.errors import Unauthenticated, problem_responses
from mindspace.platform.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.web import CurrentPrincipal, KeyVault, UserReader, UserSession

router = APIRouter(prefix="/journal", tags=["journal"])
_ENTRY_ERRORS = (Unauthenticated, EntryNotFound)
_WRITE_ERRORS = (EmptyEntry, WrittenInFuture, UnknownPrompt)


async def entry_filters(
    written_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Written at or after")
    ] = None,
    written_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Written before")
    ] = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=TAG_MAX_CHARS)] = None,
    mood: Mood | None = None,
    prompt_id: Annotated[PromptRef | None, Query()] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Words the entry contains")
    ] = None,
) -> EntryFilters:
    return EntryFilters(
        written_from=written_from,
        written_to=written_to,
        tag=tag,
        mood=mood,
        prompt_id=prompt_id,
        q=q,
    )


Filters = Annotated[EntryFilters, Depends(entry_filters)]


@router.post(
    "/entries",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated, *_WRITE_ERRORS, *IDEMPOTENCY_ERRORS),
    dependencies=[Idempotent],
)
async def create_entry(
    body: EntryCreate, session: UserSession, principal: CurrentPrincipal, vault: KeyVault
) -> SavedEntry:
    """Writes an entry, sealed with your key. Only you can read it. When the words suggest you
    may be in danger, the answer carries crisis lines for your country; the care team hears of
    it only if you allowed crisis outreach, and never reads the entry."""
    return await service.create_entry(session, principal, vault, data=body)


@router.get(
    "/entries", responses=problem_responses(Unauthenticated, InvalidCursor, NothingToSearch)
)
async def list_entries(
    reader: UserReader,
    principal: CurrentPrincipal,
    vault: KeyVault,
    paging: Paging,
    filters: Filters,
) -> Page[Entry]:
    """Your entries, newest written first. `q` finds entries containing every word given
    (whole words, any case or accents)."""
    return await service.list_entries(reader, principal, vault, paging, filters=filters)


@router.get("/entries/{entry_id}", responses=problem_responses(*_ENTRY_ERRORS))
async def get_entry(
    entry_id: EntryId, reader: UserReader, principal: CurrentPrincipal, vault: KeyVault
) -> Entry:
    return await service.get_entry(reader, principal, vault, entry_id=entry_id)


@router.patch("/entries/{entry_id}", responses=problem_responses(*_ENTRY_ERRORS, *_WRITE_ERRORS))
async def update_entry(
    entry_id: EntryId,
    body: EntryUpdate,
    session: UserSession,
    principal: CurrentPrincipal,
    vault: KeyVault,
) -> SavedEntry:
    return await service.update_entry(session, principal, vault, entry_id=entry_id, changes=body)


@router.delete("/entries/{entry_id}", status_code=204, responses=problem_responses(*_ENTRY_ERRORS))
async def delete_entry(
    entry_id: EntryId, session: UserSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_entry(session, principal, entry_id=entry_id)
    return Response(status_code=204)


@router.get(
    "/entries/{entry_id}/analysis",
    responses=problem_responses(Unauthenticated, AnalysisNotFound),
)
async def get_analysis(
    entry_id: EntryId, session: UserSession, principal: CurrentPrincipal
) -> EntryAnalysis:
    """Sentiment and emotion scores, when you allow journal analysis in your privacy
    settings. Computed shortly after each save; only the numbers are kept."""
    return await service.get_analysis(session, principal, entry_id=entry_id)


@router.get(
    "/export",
    responses={
        **problem_responses(Unauthenticated),
        200: {"content": {"application/json": {}, "text/markdown": {}}},
    },
    response_class=Response,
)
async def export_entries(
    session: UserSession,
    principal: CurrentPrincipal,
    vault: KeyVault,
    format: Literal["json", "markdown"] = "json",
) -> Response:
    """All your entries, opened, as a download: JSON, or Markdown to read anywhere."""
    stamp = f"{datetime.now().date():%Y-%m-%d}"
    if format == "markdown":
        text = await service.export_markdown(session, principal, vault)
        return Response(
            text.encode(),
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="journal-{stamp}.md"'},
        )
    entries = await service.export_json(session, principal, vault)
    return Response(
        orjson.dumps({"entries": entries}, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="journal-{stamp}.json"'},
    )


@router.get("/prompts", responses=problem_responses(Unauthenticated))
async def list_catalogue(
    principal: CurrentPrincipal,
    theme: Annotated[str | None, Query(max_length=40, description="e.g. gratitude")] = None,
) -> list[Prompt]:
    """The curated prompts, by theme."""
    return service.list_catalogue(theme=theme)


@router.get("/prompts/today", responses=problem_responses(Unauthenticated))
async def daily_prompt(session: UserSession, principal: CurrentPrincipal) -> DailyPrompt:
    """Today's prompt for you (your timezone and day boundary); no prompt comes back within
    30 days."""
    return await service.get_daily_prompt(session, principal)


@router.post(
    "/custom-prompts",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated),
)
async def create_prompt(
    body: CustomPromptCreate, session: UserSession, principal: CurrentPrincipal, vault: KeyVault
) -> CustomPrompt:
    return await service.create_prompt(session, principal, vault, text=body.text)


@router.get("/custom-prompts", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_prompts(
    session: UserSession, principal: CurrentPrincipal, vault: KeyVault, paging: Paging
) -> Page[CustomPrompt]:
    return await service.list_prompts(session, principal, vault, paging)


@router.get(
    "/custom-prompts/{prompt_id}", responses=problem_responses(Unauthenticated, PromptNotFound)
)
async def get_prompt(
    prompt_id: CustomPromptId, session: UserSession, principal: CurrentPrincipal, vault: KeyVault
) -> CustomPrompt:
    return await service.get_prompt(session, principal, vault, prompt_id=prompt_id)


@router.patch(
    "/custom-prompts/{prompt_id}", responses=problem_responses(Unauthenticated, PromptNotFound)
)
async def update_prompt(
    prompt_id: CustomPromptId,
    body: CustomPromptUpdate,
    session: UserSession,
    principal: CurrentPrincipal,
    vault: KeyVault,
) -> CustomPrompt:
    return await service.update_prompt(
        session, principal, vault, prompt_id=prompt_id, text=body.text
    )


@router.delete(
    "/custom-prompts/{prompt_id}",
    status_code=204,
    responses=problem_responses(Unauthenticated, PromptNotFound),
)
async def delete_prompt(
    prompt_id: CustomPromptId, session: UserSession, principal: CurrentPrincipal
) -> Response:
    """Deletes the prompt; entries written to it stay."""
    await service.delete_prompt(session, principal, prompt_id=prompt_id)
    return Response(status_code=204)

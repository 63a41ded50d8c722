"""The companion's HTTP surface: thin routes over companion.service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Request, status
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse

from mindspace.companion import memories, service, template_runs
from mindspace.companion.credits import Credits, NothingCharged
from mindspace.companion.engine_config import open_engine
from mindspace.companion.engines import Engine
from mindspace.companion.entitlements import Entitlements, FreePlanForEveryone, Limits
from mindspace.companion.errors import (
    ConversationEnded,
    ConversationNotFound,
    DailyQuotaReached,
    InvalidTemplateInput,
    MemoryNotFound,
    PersonaNotIncluded,
    TemplateNotFound,
    TemplateNotIncluded,
    UnknownPersona,
)
from mindspace.companion.schemas import (
    ClearRequest,
    ConversationDetail,
    ConversationId,
    ConversationOut,
    ConversationStart,
    MemoryId,
    MemoryOut,
    MessageSend,
    PersonaOut,
    TemplateOut,
    TemplateRunOut,
    TemplateRunRequest,
    TransitionOut,
    TurnOut,
)
from mindspace.platform.config import Settings
from mindspace.platform.errors import Forbidden, RateLimited, Unauthenticated, problem_responses
from mindspace.platform.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from mindspace.platform.pagination import InvalidCursor, Page, Paging
from mindspace.platform.realtime import Realtime
from mindspace.platform.web import (
    CurrentPrincipal,
    DatabaseDep,
    KeyVault,
    RequestOrigin,
    StaffPrincipal,
    UserSession,
)

router = APIRouter()
conversations = APIRouter(prefix="/companion", tags=["companion"])
admin = APIRouter(prefix="/admin/companion", tags=["admin"])
_ONE = (Unauthenticated, ConversationNotFound)
EVENT_STREAM = "text/event-stream"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# The two seams the store and the ledger will fill (tests put their own in through FastAPI's
# dependency_overrides): until then, the free plan for everyone and nothing charged.
async def entitlements_for(request: Request) -> Entitlements:
    return FreePlanForEveryone(daily_messages=_settings(request).companion_free_daily_messages)


async def credits_for(request: Request) -> Credits:
    return NothingCharged()


PlanDep = Annotated[Entitlements, Depends(entitlements_for)]


async def _limits(
    request: Request,
    entitlements: PlanDep,
    credits: Annotated[Credits, Depends(credits_for)],
) -> Limits:
    return Limits(
        throttle=request.app.state.rate_limiter,
        rate=_settings(request).companion_rate_limit,
        entitlements=entitlements,
        credits=credits,
    )


async def _answers(request: Request) -> template_runs.AnswerCache:
    return template_runs.AnswerCache(
        store=request.app.state.cache, ttl_s=_settings(request).companion_template_cache_ttl_s
    )


async def _engine(request: Request) -> AsyncIterator[Engine]:
    async with open_engine(_settings(request)) as engine:
        yield engine


LimitsDep = Annotated[Limits, Depends(_limits)]
EngineDep = Annotated[Engine, Depends(_engine)]


@conversations.get("/personas", responses=problem_responses(Unauthenticated))
async def list_personas(
    session: UserSession, principal: CurrentPrincipal, entitlements: PlanDep
) -> list[PersonaOut]:
    return await service.list_personas(session, principal, entitlements)


@conversations.get("/templates", responses=problem_responses(Unauthenticated))
async def list_templates(
    session: UserSession, principal: CurrentPrincipal, entitlements: PlanDep
) -> list[TemplateOut]:
    """The prompt templates, and which of them your plan includes."""
    return await template_runs.list_templates(session, principal, entitlements)


@conversations.post(
    "/templates/{template_id}/run",
    responses=problem_responses(
        Unauthenticated,
        TemplateNotFound,
        InvalidTemplateInput,
        TemplateNotIncluded,
        RateLimited,
        DailyQuotaReached,
        *IDEMPOTENCY_ERRORS,
    ),
    # A retried run would count twice toward the quota and could pay for a second model reply.
    dependencies=[Idempotent],
)
async def run_template(
    template_id: str,
    body: TemplateRunRequest,
    request: Request,
    session: UserSession,
    principal: CurrentPrincipal,
    engine: EngineDep,
    limits: LimitsDep,
    answers: Annotated[template_runs.AnswerCache, Depends(_answers)],
) -> TemplateRunOut:
    """Runs a template with its input (an option's value, or your text) and answers. Text you
    write is checked for your safety first: if you are in danger you get crisis lines for your
    country, whatever the plan or the limits. Answers to templates without free text may come
    from your own earlier run for a while (`cached`)."""
    return await template_runs.run_template(
        session,
        principal,
        engine,
        limits,
        answers,
        template_id=template_id,
        value=body.input,
        model=_settings(request).companion_model,
    )


@conversations.post(
    "/conversations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        Unauthenticated, UnknownPersona, PersonaNotIncluded, *IDEMPOTENCY_ERRORS
    ),
    dependencies=[Idempotent],
)
async def start_conversation(
    body: ConversationStart,
    session: UserSession,
    principal: CurrentPrincipal,
    vault: KeyVault,
    entitlements: PlanDep,
) -> ConversationDetail:
    """Starts a conversation with a persona. It opens by saying what the companion is: an AI
    wellbeing companion, not a therapist."""
    return await service.start_conversation(
        session, principal, vault, entitlements, persona=body.persona
    )


@conversations.get("/conversations", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_conversations(
    session: UserSession, principal: CurrentPrincipal, paging: Paging
) -> Page[ConversationOut]:
    return await service.list_conversations(session, principal, params=paging)


@conversations.get("/conversations/{cnv_id}", responses=problem_responses(*_ONE, InvalidCursor))
async def get_conversation(
    cnv_id: ConversationId,
    session: UserSession,
    principal: CurrentPrincipal,
    vault: KeyVault,
    paging: Paging,
) -> ConversationDetail:
    """The conversation with a page of its messages, newest first."""
    return await service.get_conversation(
        session, principal, vault, conversation_id=cnv_id, params=paging
    )


@conversations.post("/conversations/{cnv_id}/end", responses=problem_responses(*_ONE))
async def end_conversation(
    cnv_id: ConversationId, session: UserSession, principal: CurrentPrincipal
) -> ConversationOut:
    return await service.end_conversation(session, principal, conversation_id=cnv_id)


@conversations.delete(
    "/conversations/{cnv_id}", status_code=204, responses=problem_responses(*_ONE)
)
async def delete_conversation(
    cnv_id: ConversationId, session: UserSession, principal: CurrentPrincipal
) -> None:
    await service.delete_conversation(session, principal, conversation_id=cnv_id)


def _sse(events: list[tuple[str, dict[str, object]]]) -> list[bytes]:
    return [
        f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n" for name, data in events
    ]


@conversations.post(
    "/conversations/{cnv_id}/messages",
    response_model=TurnOut,
    responses={
        **problem_responses(
            *_ONE, ConversationEnded, RateLimited, DailyQuotaReached, *IDEMPOTENCY_ERRORS
        ),
        200: {"content": {EVENT_STREAM: {}}, "description": "The turn, or its event stream"},
    },
    dependencies=[Idempotent],
)
async def send_message(
    cnv_id: ConversationId,
    body: MessageSend,
    request: Request,
    session: UserSession,
    principal: CurrentPrincipal,
    vault: KeyVault,
    engine: EngineDep,
    limits: LimitsDep,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Sends a message and answers with the reply: JSON, or Server-Sent Events when asked
    (`Accept: text/event-stream`). The same events go to the `conversation:<id>` room. A
    message about being in danger is always answered, whatever the plan or the limits."""
    turn = await service.send_message(
        session,
        principal,
        vault,
        engine,
        limits,
        memories.embedders_for(_settings(request)),
        conversation_id=cnv_id,
        text=body.text,
    )
    realtime: Realtime = request.app.state.realtime
    # Sent once the response starts, which is after the turn has been committed.
    broadcast = BackgroundTask(service.broadcast, realtime, cnv_id, turn)
    if accept and EVENT_STREAM in accept:
        frames = _sse(service.stream_events(turn))

        async def stream() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        return StreamingResponse(
            stream(),
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            background=broadcast,
        )
    return JSONResponse(turn.out.model_dump(mode="json"), background=broadcast)


@conversations.post("/conversations/{cnv_id}/safe", responses=problem_responses(*_ONE))
async def confirm_safe(
    cnv_id: ConversationId, session: UserSession, principal: CurrentPrincipal
) -> ConversationOut:
    """I am safe now: the conversation's safety state steps down as far as its rules allow."""
    return await service.confirm_safe(session, principal, conversation_id=cnv_id)


@conversations.get("/conversations/{cnv_id}/safety-transitions", responses=problem_responses(*_ONE))
async def list_transitions(
    cnv_id: ConversationId, session: UserSession, principal: CurrentPrincipal
) -> list[TransitionOut]:
    return await service.list_transitions(session, principal, conversation_id=cnv_id)


@conversations.get("/memories", responses=problem_responses(Unauthenticated, InvalidCursor))
async def list_memories(
    session: UserSession, principal: CurrentPrincipal, vault: KeyVault, paging: Paging
) -> Page[MemoryOut]:
    """What the companion remembers of your ended conversations and, if you allow that too,
    of your journal entries (only while you allow AI memory in your privacy settings), newest
    first."""
    return await memories.list_memories(session, principal, vault, params=paging)


@conversations.delete(
    "/memories/{mem_id}",
    status_code=204,
    responses=problem_responses(Unauthenticated, MemoryNotFound),
)
async def delete_memory(
    mem_id: MemoryId, session: UserSession, principal: CurrentPrincipal
) -> None:
    """Forget one memory. A journal entry's memory is made again from its new words if you
    edit the entry while journal memory is allowed."""
    await memories.delete_memory(session, principal, memory_id=mem_id)


@conversations.delete("/memories", status_code=204, responses=problem_responses(Unauthenticated))
async def forget_everything(session: UserSession, principal: CurrentPrincipal) -> None:
    """Forget everything the companion remembers about you."""
    await memories.forget_everything(session, owner_id=principal.user_id)


@admin.post(
    "/conversations/{cnv_id}/clear",
    responses=problem_responses(Unauthenticated, Forbidden, ConversationNotFound),
)
async def clear_conversation(
    cnv_id: ConversationId,
    body: ClearRequest,
    db: DatabaseDep,
    principal: StaffPrincipal,
    origin: RequestOrigin,
) -> ConversationOut:
    """A reviewer clears a conversation's safety state. Audited; the words stay private."""
    return await service.clear_conversation(
        db, principal, conversation_id=cnv_id, note=body.note, origin=origin
    )


router.include_router(conversations)
router.include_router(admin)

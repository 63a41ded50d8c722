"""Conversations with the companion, and the safety net around every message.

Order of a turn, which no setting or prompt changes: the person's text is assessed first (the
deterministic safety gate, with their earlier messages and the conversation's sticky level as
context); the safety state moves by explicit rules and every change is recorded; a high-risk
message gets the crisis response, resources and an alert in the same transaction, without any
limit, quota or credit in the way; in a crisis state only scripted replies are written; any
other reply may come from a model, and a model's reply is assessed before the person sees it.

Each of the person's messages is marked memorable only when it was assessed normal outside a
crisis state; memory (companion.memories) keeps nothing else. A model's reply is paid for with
an AI credit (companion.credits) only when it is sent as written; a person without credits is
answered by the scripted engine instead, and the turn says so.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import (
    memories,
    personas,
    replies,
    repository,
    safeguards,
    template_runs,
    usage,
)
from mindspace.companion.credits import Paid
from mindspace.companion.engines import ChatMessage, Engine, EngineRequest, Role
from mindspace.companion.engines.scripted import ScriptedEngine, finished_flow
from mindspace.companion.entitlements import Entitlements, Limits
from mindspace.companion.errors import (
    ConversationEnded,
    ConversationNotFound,
    PersonaNotIncluded,
    UnknownPersona,
)
from mindspace.companion.models import (
    CONTENT,
    ENGINE_STATE,
    Author,
    Conversation,
    ConversationStatus,
    Message,
    MessageKind,
    SafetyTransition,
)
from mindspace.companion.prompts import DISCLOSURE
from mindspace.companion.safety_state import (
    SafetyState,
    Transition,
    Trigger,
    next_state,
    uses_models,
)
from mindspace.companion.schemas import (
    ConversationDetail,
    ConversationOut,
    MessageOut,
    PersonaOut,
    TransitionOut,
    TurnOut,
)
from mindspace.crisis import service as crisis
from mindspace.identity import service as identity
from mindspace.platform import audit, crypto
from mindspace.platform.audit import Origin, admin_session
from mindspace.platform.clock import utc_now
from mindspace.platform.crypto import DataKey, Vault
from mindspace.platform.db import Database
from mindspace.platform.ids import encode, new_id
from mindspace.platform.pagination import Page, PageParams, page
from mindspace.platform.realtime import Realtime, room_name
from mindspace.platform.security import Principal
from mindspace.safety import service as safety
from mindspace.safety.service import AssessmentContext, CrisisSupport, RiskLevel

log = logging.getLogger(__name__)
DISCLOSURE_EVERY = timedelta(hours=3)
# Enough turns for the gate's context and the model's; older risk lives on in session_level.
CONTEXT_MESSAGES = 40
ROOM_KIND = "conversation"
_TRIGGERS = {
    RiskLevel.normal: Trigger.assessed_normal,
    RiskLevel.elevated_concern: Trigger.assessed_elevated,
    RiskLevel.high_risk: Trigger.assessed_high,
}
_RANK = {state: rank for rank, state in enumerate(SafetyState)}
_LEVEL_OF = {
    SafetyState.normal: RiskLevel.normal,
    SafetyState.elevated_concern: RiskLevel.elevated_concern,
    SafetyState.high_risk: RiskLevel.high_risk,
    SafetyState.safety_mode: RiskLevel.high_risk,
}


# Personas.


async def list_personas(
    session: AsyncSession, principal: Principal, entitlements: Entitlements
) -> list[PersonaOut]:
    plan = await entitlements.plan_for(session, principal)
    return [
        PersonaOut(
            id=p.id,
            name=p.name,
            description=p.description,
            paid=p.paid,
            available=plan.has_persona(p),
        )
        for p in personas.CATALOGUE
    ]


# Conversations.


def _conversation_out(row: Any) -> ConversationOut:
    """From an ORM object or a Core row alike: both carry the columns as attributes."""
    return ConversationOut.model_validate(row)


def _message_out(key: DataKey, row: Mapping[Any, Any]) -> MessageOut:
    return MessageOut(
        id=row["id"],
        author=row["author"],
        kind=row["kind"],
        content=key.open_text(row["content_sealed"], purpose=CONTENT, row_id=row["id"]),
        engine=row["engine"],
        replaced=row["replaced"],
        created_at=row["created_at"],
    )


def _seal_state(key: DataKey, conversation_id: uuid.UUID, state: dict[str, Any]) -> bytes:
    return key.seal(orjson.dumps(state), purpose=ENGINE_STATE, row_id=conversation_id)


def _open_state(key: DataKey, conversation: Conversation) -> dict[str, Any]:
    raw = key.open(conversation.engine_state_sealed, purpose=ENGINE_STATE, row_id=conversation.id)
    state: dict[str, Any] = orjson.loads(raw)
    return state


@dataclass
class _Writer:
    """Adds a conversation's messages in order: rows of one transaction share now(), so each
    gets its own instant."""

    key: DataKey
    conversation: Conversation
    at: datetime
    added: list[Message] = field(default_factory=list)

    def add(
        self,
        session: AsyncSession,
        *,
        author: Author,
        kind: MessageKind,
        content: str,
        engine: str | None = None,
        replaced: bool = False,
    ) -> Message:
        message_id = new_id()
        self.at += timedelta(microseconds=1)
        message = Message(
            id=message_id,
            owner_id=self.conversation.owner_id,
            conversation_id=self.conversation.id,
            author=author.value,
            kind=kind.value,
            engine=engine,
            replaced=replaced,
            content_sealed=self.key.seal_text(content, purpose=CONTENT, row_id=message_id),
            created_at=self.at,
        )
        session.add(message)
        self.added.append(message)
        self.conversation.last_message_at = self.at
        return message

    def out(self, message: Message, content: str) -> MessageOut:
        return MessageOut(
            id=message.id,
            author=Author(message.author),
            kind=MessageKind(message.kind),
            content=content,
            engine=message.engine,
            replaced=message.replaced,
            created_at=message.created_at,
        )


async def start_conversation(
    session: AsyncSession,
    principal: Principal,
    vault: Vault,
    entitlements: Entitlements,
    *,
    persona: str,
) -> ConversationDetail:
    """A new conversation, opened with the disclosure of what the companion is."""
    chosen = personas.by_id().get(persona)
    if chosen is None:
        raise UnknownPersona(f"Choose one of: {', '.join(personas.by_id())}.")
    if chosen.paid:
        plan = await entitlements.plan_for(session, principal)
        if not plan.has_persona(chosen):
            raise PersonaNotIncluded(f"{chosen.name} is not included in the {plan.name} plan.")
    key = await vault.data_key(session, principal.user_id)
    now = utc_now()
    conversation = Conversation(
        id=new_id(),
        owner_id=principal.user_id,
        persona=chosen.id,
        status=ConversationStatus.active.value,
        safety_state=SafetyState.normal.value,
        session_level=RiskLevel.normal.value,
        disclosed_at=now,
        last_message_at=now,
    )
    conversation.engine_state_sealed = _seal_state(key, conversation.id, {})
    session.add(conversation)
    await session.flush()
    writer = _Writer(key, conversation, now)
    disclosure = writer.add(
        session, author=Author.companion, kind=MessageKind.disclosure, content=DISCLOSURE
    )
    await session.flush()
    await session.refresh(conversation)
    return ConversationDetail(
        **_conversation_out(conversation).model_dump(),
        messages=Page[MessageOut](items=[writer.out(disclosure, DISCLOSURE)]),
    )


async def list_conversations(
    session: AsyncSession, principal: Principal, *, params: PageParams
) -> Page[ConversationOut]:
    """Mine, newest first."""
    rows = [
        _conversation_out(r)
        for r in await repository.list_conversations(session, principal, params)
    ]
    return page(rows, params, key=lambda c: [c.created_at, c.id])


async def _conversation_row(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID
) -> ConversationOut:
    row = await repository.get_conversation(session, principal, conversation_id)
    if row is None:
        raise ConversationNotFound()
    return _conversation_out(row)


async def get_conversation(
    session: AsyncSession,
    principal: Principal,
    vault: Vault,
    *,
    conversation_id: uuid.UUID,
    params: PageParams,
) -> ConversationDetail:
    """The conversation and a page of its messages, newest first."""
    conversation = await _conversation_row(session, principal, conversation_id)
    rows = await repository.list_messages(session, principal, conversation_id, params)
    key = await vault.find_data_key(session, principal.user_id)
    messages = [_message_out(key, r._mapping) for r in rows] if key else []
    return ConversationDetail(
        **conversation.model_dump(),
        messages=page(messages, params, key=lambda m: [m.created_at, m.id]),
    )


async def _locked(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID
) -> Conversation:
    conversation = await repository.conversation_for_update(
        session, principal.user_id, conversation_id
    )
    if conversation is None:
        raise ConversationNotFound()
    return conversation


async def end_conversation(
    session: AsyncSession, principal: Principal, *, conversation_id: uuid.UUID
) -> ConversationOut:
    """Ended; remembered afterwards by a job when the person allows memory."""
    conversation = await _locked(session, principal, conversation_id)
    if conversation.status != ConversationStatus.ended:
        conversation.status = ConversationStatus.ended.value
        conversation.ended_at = utc_now()
        await memories.announce_end(session, principal, conversation_id=conversation.id)
        await session.flush()
        await session.refresh(conversation)
    return _conversation_out(conversation)


async def delete_conversation(
    session: AsyncSession, principal: Principal, *, conversation_id: uuid.UUID
) -> None:
    """Gone with its messages and transitions (the foreign keys cascade). A crisis alert it
    raised stays in the staff queue, keeping only its sealed excerpt until purged after
    resolution (crisis)."""
    await _locked(session, principal, conversation_id)
    await session.execute(
        delete(Conversation).where(
            Conversation.owner_id == principal.user_id, Conversation.id == conversation_id
        )
    )


async def list_transitions(
    session: AsyncSession, principal: Principal, *, conversation_id: uuid.UUID
) -> list[TransitionOut]:
    await _conversation_row(session, principal, conversation_id)
    stmt = repository.readable_transitions(principal, conversation_id)
    rows = (await session.execute(stmt.order_by(SafetyTransition.created_at))).scalars()
    return [TransitionOut.model_validate(t) for t in rows]


async def may_join(session: AsyncSession, principal: Principal, conversation_id: uuid.UUID) -> bool:
    return await repository.get_conversation(session, principal, conversation_id) is not None


# The safety state.


def _record_transition(
    session: AsyncSession,
    conversation: Conversation,
    transition: Transition,
    *,
    actor: Principal,
    reviewer: bool = False,
    message_id: uuid.UUID | None = None,
    origin: Origin | None = None,
) -> None:
    """Moves the state; a change is kept with its rule and audited."""
    if not transition.changed:
        return
    conversation.safety_state = transition.after.value
    if _RANK[transition.after] < _RANK[transition.before]:
        # Stepped down by an explicit rule: the gate's sticky session starts again here.
        conversation.session_level = _LEVEL_OF[transition.after].value
        conversation.context_since = utc_now()
    session.add(
        SafetyTransition(
            owner_id=conversation.owner_id,
            conversation_id=conversation.id,
            before=transition.before.value,
            after=transition.after.value,
            trigger=transition.trigger.value,
            rule=transition.rule,
            actor_id=actor.user_id if reviewer else None,
            message_id=message_id,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="companion.safety_state",
        target_type="companion_conversation",
        target_id=conversation.id,
        origin=origin,
        details={
            "before": transition.before.value,
            "after": transition.after.value,
            "trigger": transition.trigger.value,
            "rule": transition.rule,
        },
    )


async def confirm_safe(
    session: AsyncSession, principal: Principal, *, conversation_id: uuid.UUID
) -> ConversationOut:
    """The person says they are safe: the state steps down as far as the rules allow."""
    conversation = await _locked(session, principal, conversation_id)
    transition = next_state(
        SafetyState(conversation.safety_state),
        Trigger.person_confirms_safe,
        now=utc_now(),
        last_high_risk_at=conversation.last_high_risk_at,
    )
    _record_transition(session, conversation, transition, actor=principal)
    await session.flush()
    await session.refresh(conversation)
    return _conversation_out(conversation)


async def clear_conversation(
    db: Database, principal: Principal, *, conversation_id: uuid.UUID, note: str, origin: Origin
) -> ConversationOut:
    """A reviewer clears a conversation's safety state (staff; audited, with their note).
    They see its state, never its words."""
    async with admin_session(
        db,
        principal,
        action="companion.conversation.clear",
        target_type="companion_conversation",
        target_id=conversation_id,
        origin=origin,
        details={"note": note},
    ) as session:
        conversation = await session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None:
            raise ConversationNotFound()
        transition = next_state(
            SafetyState(conversation.safety_state), Trigger.reviewer_clears, now=utc_now()
        )
        _record_transition(
            session, conversation, transition, actor=principal, reviewer=True, origin=origin
        )
        await session.flush()
        await session.refresh(conversation)
        return _conversation_out(conversation)


# A turn.


@dataclass(frozen=True, slots=True)
class Turn:
    """A stored turn, and each reply's chunks in the order they are streamed."""

    out: TurnOut
    chunks: Sequence[tuple[MessageOut, Sequence[str]]]


async def send_message(
    session: AsyncSession,
    principal: Principal,
    vault: Vault,
    engine: Engine,
    limits: Limits,
    embedders: memories.Embedders,
    *,
    conversation_id: uuid.UUID,
    text: str,
) -> Turn:
    conversation = await _locked(session, principal, conversation_id)
    key = await vault.data_key(session, principal.user_id)
    recent = [
        _message_out(key, r._mapping)
        for r in await repository.recent_messages(
            session, principal, conversation_id, limit=CONTEXT_MESSAGES
        )
    ]
    since = conversation.context_since
    earlier = [
        m.content
        for m in recent
        if m.author is Author.person and (since is None or m.created_at > since)
    ]
    session_level = RiskLevel(conversation.session_level)
    # The gate, first and always.
    assessment = await safety.assess_off_loop(
        text, AssessmentContext(previous=earlier, session_level=session_level)
    )
    before = SafetyState(conversation.safety_state)
    in_crisis = not uses_models(before)
    # The crisis path: nothing may refuse it, not even a conversation that has ended.
    if not (assessment.level is RiskLevel.high_risk or in_crisis):
        if conversation.status == ConversationStatus.ended:
            raise ConversationEnded("Start a new conversation to keep talking.")
        await usage.within_limits(session, principal, limits)
    # The gate's level is sticky, so in a crisis state every message assesses high; one with
    # a warning sign of its own is a new crisis (the alert again, safety mode), and one
    # without ("thank you") gets a scripted reply with the lines still in view.
    own_level = max(
        (e.level for e in assessment.evidence), key=lambda lv: lv.rank, default=RiskLevel.normal
    )
    warning_sign = any(e.signal not in safety.CONTEXT_ONLY_SIGNALS for e in assessment.evidence)
    crisis_now = assessment.level is RiskLevel.high_risk and (not in_crisis or warning_sign)
    trigger_level = assessment.level if crisis_now or not in_crisis else own_level

    now = utc_now()
    writer = _Writer(key, conversation, now)
    said = writer.add(session, author=Author.person, kind=MessageKind.text, content=text)
    transition = next_state(
        before,
        _TRIGGERS[trigger_level],
        now=now,
        last_high_risk_at=conversation.last_high_risk_at,
    )
    _record_transition(session, conversation, transition, actor=principal, message_id=said.id)
    said.memorable = (
        assessment.level is RiskLevel.normal and not in_crisis and uses_models(transition.after)
    )
    conversation.session_level = session_level.at_least(assessment.level).value
    if crisis_now:
        conversation.last_high_risk_at = now

    streamed: list[tuple[Message, str, Sequence[str]]] = []
    if now - conversation.disclosed_at >= DISCLOSURE_EVERY:
        conversation.disclosed_at = now
        shown = writer.add(
            session, author=Author.companion, kind=MessageKind.disclosure, content=DISCLOSURE
        )
        streamed.append((shown, DISCLOSURE, replies.pieces(DISCLOSURE)))

    me = await identity.load_me(session, principal)
    support: CrisisSupport | None = None
    if crisis_now or not uses_models(transition.after):
        support = safety.crisis_support(me.country)
    out_of_credits = False
    if support is not None and crisis_now:
        content = await safeguards.answer_crisis(
            session,
            principal,
            support,
            signals=assessment.signals,
            excerpt=text,
            trigger="companion_message",
            source_type="companion_conversation",
            source_id=conversation.id,
            follow_up=not in_crisis,
        )
        reply = writer.add(
            session,
            author=Author.companion,
            kind=MessageKind.crisis,
            content=content,
            engine=ScriptedEngine.name,
        )
        streamed.append((reply, content, replies.pieces(content)))
    else:
        # Warning signs below high risk, when they recur, get a human look (crisis decides).
        await crisis.note_concern(
            session,
            key=key,
            assessment=assessment,
            excerpt=text,
            source_type="companion_conversation",
            source_id=conversation.id,
        )
        funded = await usage.fund(
            session,
            principal,
            limits.credits,
            engine if uses_models(transition.after) else ScriptedEngine(),
        )
        out_of_credits = funded.out_of_credits
        answered = await _engine_reply(
            session,
            principal,
            writer,
            funded.engine,
            embedders,
            conversation,
            recent=recent,
            text=text,
            locale=me.locale,
            person_level=assessment.level,
            support=support,
        )
        streamed.append(answered)
        message = answered[0]
        await usage.pay_for(
            session,
            principal,
            limits.credits,
            funded,
            paid=Paid.companion_message,
            reply_id=message.id,
            engine=message.engine or ScriptedEngine.name,
            replaced=message.replaced,
        )
    await session.flush()
    await session.refresh(conversation)
    outs = [(writer.out(m, content), chunks) for m, content, chunks in streamed]
    return Turn(
        out=TurnOut(
            conversation=_conversation_out(conversation),
            message=writer.out(said, text),
            replies=[o for o, _ in outs],
            crisis=support,
            out_of_credits=out_of_credits,
        ),
        chunks=outs,
    )


async def _engine_reply(
    session: AsyncSession,
    principal: Principal,
    writer: _Writer,
    engine: Engine,
    embedders: memories.Embedders,
    conversation: Conversation,
    *,
    recent: Sequence[MessageOut],
    text: str,
    locale: str,
    person_level: RiskLevel,
    support: CrisisSupport | None,
) -> tuple[Message, str, Sequence[str]]:
    """An engine's reply, whole before any of it is sent: a model's is assessed first and
    withheld when unsafe. In a crisis state the engine is the scripted one, and the lines stay
    in view."""
    history = [
        ChatMessage(Role.user if m.author is Author.person else Role.assistant, m.content)
        for m in recent
        if m.kind is not MessageKind.disclosure
    ]
    state = _open_state(writer.key, conversation)
    # Only a model is told what the person let it remember, and never in a crisis state.
    recalled = (
        await memories.recall(session, principal, writer.key, embedders, text_=text)
        if engine.name != ScriptedEngine.name and support is None
        else memories.Recall([], None)
    )
    started = await engine.start(
        EngineRequest(
            history=history,
            text=text,
            persona=conversation.persona,
            locale=locale,
            state=state,
            memories=recalled.summaries,
        )
    )
    chunks = [chunk async for chunk in started.chunks]
    content = "".join(chunks)
    replaced = False
    if started.engine != ScriptedEngine.name and not safeguards.vetted(content, person_level):
        log.warning("companion model reply withheld", extra={"engine": started.engine})
        content, replaced = replies.model_replacement(), True
        chunks = list(replies.pieces(content))
    else:
        completed = list(state.get(memories.COMPLETED, []))
        if started.engine == ScriptedEngine.name and (
            done := finished_flow(text, state, started.state)
        ):
            completed.append(done)
        kept = {**started.state, memories.COMPLETED: completed} if completed else started.state
        conversation.engine_state_sealed = _seal_state(writer.key, conversation.id, kept)
    kind = MessageKind.reply
    if support is not None:
        reminder = replies.safety_reminder(support.resources)
        content, kind = content + reminder, MessageKind.safety
        chunks = [*chunks, reminder]
    message = writer.add(
        session,
        author=Author.companion,
        kind=kind,
        content=content,
        engine=ScriptedEngine.name if replaced else started.engine,
        replaced=replaced,
    )
    return message, content, chunks


async def broadcast(realtime: Realtime, conversation_id: uuid.UUID, turn: Turn) -> None:
    """The turn to the conversation's Socket.IO room, in the same events as the SSE stream.
    Called once the turn is committed, so nobody sees a reply that was not stored."""
    room = room_name(ROOM_KIND, conversation_id)
    try:
        for event, data in stream_events(turn):
            await realtime.emit_to_room(room, event, data)
    except Exception as exc:  # the turn is stored and was answered; a live copy is a bonus
        log.warning("companion turn not broadcast", extra={"error": repr(exc)})


def stream_events(turn: Turn) -> list[tuple[str, dict[str, Any]]]:
    """`companion.message` (what the person sent), then per reply `companion.reply.started`,
    its `companion.reply.chunk`s and `companion.reply.completed`, and last
    `companion.turn.completed` with the whole turn."""
    events: list[tuple[str, dict[str, Any]]] = [
        ("companion.message", turn.out.message.model_dump(mode="json"))
    ]
    for message, chunks in turn.chunks:
        ref = encode("cmsg", message.id)
        events.append(("companion.reply.started", {"message": ref, "kind": message.kind.value}))
        events += [("companion.reply.chunk", {"message": ref, "text": chunk}) for chunk in chunks]
        events.append(("companion.reply.completed", message.model_dump(mode="json")))
    events.append(("companion.turn.completed", turn.out.model_dump(mode="json")))
    return events


# Export.


async def _opened_messages(
    session: AsyncSession, principal: Principal, key: DataKey
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    by_conversation: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in await repository.all_messages(session, principal):
        by_conversation.setdefault(row.conversation_id, []).append(
            _message_out(key, row._mapping).model_dump(mode="json")
        )
    return by_conversation


async def export_companion(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """The companion's part of the account export, opened (read in the person's own scope)."""
    vault = crypto.vault_for(session)
    key = await vault.find_data_key(session, principal.user_id)
    conversations = (
        await session.execute(
            repository.readable_conversations(principal).order_by(Conversation.created_at)
        )
    ).all()
    by_conversation = await _opened_messages(session, principal, key) if key else {}
    return {
        "memories": await memories.export_memories(session, principal, key),
        "template_runs": await template_runs.export_runs(session, principal),
        "conversations": [
            {
                **_conversation_out(c).model_dump(mode="json"),
                "messages": by_conversation.get(c.id, []),
            }
            for c in conversations
        ],
    }

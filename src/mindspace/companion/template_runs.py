"""Running the companion's prompt templates (companion.templates), inside the same safety net,
limits and credits as a conversation's messages (companion.safeguards, companion.usage).

Order of a run, which no setting changes: the template and its input are checked; free text
passes the safety gate first, and high risk gets the crisis response with the person's
country's lines and an alert, with no plan, limit, quota or credit in the way. Then a paid
template needs the plan (402), and the rate limit and the daily quota apply as to a message.
A cacheable template is answered from the person's cache when it can (no model, no credit);
otherwise a model answers when one is configured and a credit is held, and its answer is
vetted before it is sent; failing any of that, the template's scripted answer is given.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import personas, repository, safeguards, templates, usage
from mindspace.companion.credits import Paid
from mindspace.companion.engines import Engine, EngineRequest, collect
from mindspace.companion.engines.scripted import ScriptedEngine
from mindspace.companion.entitlements import Entitlements, Limits
from mindspace.companion.errors import InvalidTemplateInput, TemplateNotFound, TemplateNotIncluded
from mindspace.companion.models import TemplateRun, TemplateRunKind
from mindspace.companion.schemas import (
    TemplateInputOut,
    TemplateOptionOut,
    TemplateOut,
    TemplateRunOut,
    TemplateRunRecord,
)
from mindspace.companion.templates import InputKind, Template
from mindspace.identity import service as identity
from mindspace.platform.cache import Cache
from mindspace.platform.clock import utc_now
from mindspace.platform.ids import new_id
from mindspace.platform.security import Principal
from mindspace.safety import service as safety
from mindspace.safety.service import CrisisSupport, RiskLevel

log = logging.getLogger(__name__)
CACHE_PREFIX = "companion:template:"


@dataclass(frozen=True, slots=True)
class AnswerCache:
    """Where the answers of cacheable templates are kept, and for how long."""

    store: Cache
    ttl_s: int


async def list_templates(
    session: AsyncSession, principal: Principal, entitlements: Entitlements
) -> list[TemplateOut]:
    plan = await entitlements.plan_for(session, principal)
    return [
        TemplateOut(
            id=t.id,
            name=t.name,
            description=t.description,
            version=t.version,
            paid=t.paid,
            available=plan.has_template(t),
            input=_input_out(t),
        )
        for t in templates.CATALOGUE
    ]


def _input_out(template: Template) -> TemplateInputOut | None:
    spec = template.input
    if spec is None:
        return None
    return TemplateInputOut(
        kind=spec.kind.value,
        label=spec.label,
        options=[TemplateOptionOut(value=o.value, label=o.label) for o in spec.options],
        max_length=spec.max_length,
    )


def _checked(template: Template, value: str | None) -> str | None:
    spec = template.input
    if spec is None:
        if value is not None:
            raise InvalidTemplateInput(f"{template.name} takes no input.", "no_input")
        return None
    if value is None:
        raise InvalidTemplateInput(f"{spec.label} An answer is needed.", "missing")
    if spec.kind is InputKind.choice and spec.option(value) is None:
        choices = ", ".join(o.value for o in spec.options)
        raise InvalidTemplateInput(f"Choose one of: {choices}.", "not_an_option")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise InvalidTemplateInput(f"At most {spec.max_length} characters.", "too_long")
    return value


def cache_key(
    user_id: uuid.UUID,
    template: Template,
    value: str | None,
    *,
    locale: str,
    engine: str,
    model: str | None,
) -> str:
    """Everything a cached answer depends on, and always the person: one person's answer
    never reaches another, and a new version, model or locale never gets an old answer."""
    material = orjson.dumps([template.id, template.version, value, locale, engine, model])
    return f"{CACHE_PREFIX}{user_id}:{hashlib.sha256(material).hexdigest()}"


async def run_template(
    session: AsyncSession,
    principal: Principal,
    engine: Engine,
    limits: Limits,
    answers: AnswerCache,
    *,
    template_id: str,
    value: str | None,
    model: str | None,
) -> TemplateRunOut:
    """The template's answer for the person; `model` names the configured model (part of the
    cache key)."""
    template = templates.by_id().get(template_id)
    if template is None:
        raise TemplateNotFound(f"Choose one of: {', '.join(templates.by_id())}.")
    value = _checked(template, value)
    me = await identity.load_me(session, principal)
    run = TemplateRun(
        id=new_id(),
        owner_id=principal.user_id,
        template=template.id,
        version=template.version,
        created_at=utc_now(),
    )
    level = RiskLevel.normal
    if value is not None and template.takes_text:
        # The gate, first and always, for anything the person wrote.
        assessment = await safety.assess_off_loop(value)
        level = assessment.level
        if level is RiskLevel.high_risk:
            support = safety.crisis_support(me.country)
            # A run has no state to remember that a follow-up is on its way: each asks for one.
            content = await safeguards.answer_crisis(
                session,
                principal,
                support,
                signals=assessment.signals,
                excerpt=value,
                trigger="companion_template",
                source_type="companion_template_run",
                source_id=run.id,
                follow_up=True,
            )
            return await _stored(
                session, run, TemplateRunKind.crisis, content, ScriptedEngine.name, crisis=support
            )
    if template.paid:
        plan = await limits.entitlements.plan_for(session, principal)
        if not plan.has_template(template):
            raise TemplateNotIncluded(f"{template.name} is not included in the {plan.name} plan.")
    await usage.within_limits(session, principal, limits)

    key = None
    if template.cacheable and engine.name != ScriptedEngine.name:
        key = cache_key(
            principal.user_id, template, value, locale=me.locale, engine=engine.name, model=model
        )
        hit = await answers.store.get(key)
        if hit is not None:
            kept = orjson.loads(hit)
            return await _stored(
                session, run, TemplateRunKind.answer, kept["content"], kept["engine"], cached=True
            )

    funded = await usage.fund(session, principal, limits.credits, engine)
    content, wrote, replaced = template.scripted(value), ScriptedEngine.name, False
    if funded.engine.name != ScriptedEngine.name:
        request = EngineRequest(
            history=(),
            text=template.prompt(value),
            persona=personas.DEFAULT_PERSONA,
            locale=me.locale,
        )
        started = await funded.engine.start(request)
        said = await collect(started)
        # After a provider failure the fallback engine's conversational reply answers nothing
        # the template asked: the template's own scripted answer stands.
        if started.engine != ScriptedEngine.name:
            if safeguards.vetted(said, level):
                content, wrote = said, started.engine
            else:
                log.warning("companion template answer withheld", extra={"engine": started.engine})
                replaced = True
    out = await _stored(
        session,
        run,
        TemplateRunKind.answer,
        content,
        wrote,
        replaced=replaced,
        out_of_credits=funded.out_of_credits,
    )
    if wrote != ScriptedEngine.name:  # a model's answer, sent as written
        await usage.pay_for(
            session,
            principal,
            limits.credits,
            funded,
            paid=Paid.template_run,
            reply_id=run.id,
            engine=wrote,
            replaced=replaced,
        )
        if key is not None:
            kept = orjson.dumps({"content": content, "engine": wrote})
            await answers.store.set(key, kept, ttl_s=answers.ttl_s)
    return out


async def _stored(
    session: AsyncSession,
    run: TemplateRun,
    kind: TemplateRunKind,
    content: str,
    engine: str,
    *,
    cached: bool = False,
    replaced: bool = False,
    out_of_credits: bool = False,
    crisis: CrisisSupport | None = None,
) -> TemplateRunOut:
    run.kind, run.engine, run.cached, run.replaced = kind.value, engine, cached, replaced
    session.add(run)
    await session.flush()
    return TemplateRunOut(
        **TemplateRunRecord.model_validate(run).model_dump(),
        content=content,
        out_of_credits=out_of_credits,
        crisis=crisis,
    )


async def export_runs(session: AsyncSession, principal: Principal) -> list[dict[str, Any]]:
    """The person's template runs for the account export (what was run, never the words)."""
    stmt = repository.readable_template_runs(principal).order_by(TemplateRun.created_at)
    return [
        TemplateRunRecord.model_validate(r).model_dump(mode="json")
        for r in await session.execute(stmt)
    ]

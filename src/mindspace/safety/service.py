"""Safety's interface for other domains: assess text, find crisis lines, and the person's
safety plan (one per person, read and replaced whole).

Other domains import this module only: `from mindspace.safety import service as safety`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.security import Principal
from mindspace.safety.assessment import (
    CONTEXT_ONLY_SIGNALS,
    Assessment,
    AssessmentContext,
    RiskLevel,
    Signal,
)
from mindspace.safety.engine import assess
from mindspace.safety.models import PLAN_SECTIONS
from mindspace.safety.models import SafetyPlan as SafetyPlanRow
from mindspace.safety.resources import crisis_resources
from mindspace.safety.schemas import CrisisResources, CrisisSupport, SafetyPlan, SafetyPlanInput

__all__ = [
    "CONTEXT_ONLY_SIGNALS",
    "Assessment",
    "AssessmentContext",
    "CrisisResources",
    "CrisisSupport",
    "RiskLevel",
    "Signal",
    "assess",
    "assess_off_loop",
    "crisis_resources",
    "crisis_support",
    "export_safety",
    "get_plan",
    "replace_plan",
]
# Below this a message is assessed on the event loop: a fraction of a millisecond, less than
# the hop to a thread. Journal-length text goes to a thread.
_ON_LOOP_CHARS = 1_000


async def assess_off_loop(text: str, context: AssessmentContext | None = None) -> Assessment:
    """`assess` for async callers: long texts are assessed in a worker thread."""
    if len(text) <= _ON_LOOP_CHARS:
        return assess(text, context)
    return await asyncio.to_thread(assess, text, context)


def crisis_support(country: str | None) -> CrisisSupport:
    """What goes with every response to words assessed high risk: the lines for the person's
    country (the international directory when we hold none) and the way to their safety plan."""
    return CrisisSupport(resources=crisis_resources(country))


_COLUMNS = [getattr(SafetyPlanRow, section) for section in PLAN_SECTIONS]


def readable_plans(principal: Principal) -> Select[Any]:
    return select(*_COLUMNS, SafetyPlanRow.updated_at).where(
        SafetyPlanRow.owner_id == principal.user_id
    )


def _empty() -> SafetyPlan:
    return SafetyPlan.model_validate(
        {**{section: [] for section in PLAN_SECTIONS}, "updated_at": None}
    )


async def get_plan(session: AsyncSession, principal: Principal) -> SafetyPlan:
    """The acting person's plan; an empty one, never saved, until they write it."""
    row = (await session.execute(readable_plans(principal))).first()
    return SafetyPlan.model_validate(dict(row._mapping)) if row else _empty()


async def replace_plan(
    session: AsyncSession, principal: Principal, *, plan: SafetyPlanInput
) -> SafetyPlan:
    values = plan.model_dump(exclude_none=True)
    stmt = (
        insert(SafetyPlanRow)
        .values(owner_id=principal.user_id, **values)
        .on_conflict_do_update(
            index_elements=[SafetyPlanRow.owner_id],
            set_={**values, "updated_at": func.now()},
        )
        .returning(*_COLUMNS, SafetyPlanRow.updated_at)
    )
    row = (await session.execute(stmt)).one()
    return SafetyPlan.model_validate(dict(row._mapping))


async def export_safety(session: AsyncSession, principal: Principal) -> dict[str, Any]:
    """Safety's part of the person's data export."""
    row = (await session.execute(readable_plans(principal))).first()
    if row is None:
        return {"safety_plan": None}
    return {"safety_plan": SafetyPlan.model_validate(dict(row._mapping)).model_dump(mode="json")}

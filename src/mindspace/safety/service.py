"""The person's safety plan: one per person, read and replaced whole."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.security import Principal
from mindspace.safety.models import PLAN_SECTIONS
from mindspace.safety.models import SafetyPlan as SafetyPlanRow
from mindspace.safety.schemas import SafetyPlan, SafetyPlanInput

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

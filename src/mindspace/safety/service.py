"""Safety's interface for other domains: assess text, find crisis lines, and the person's
safety plan (one per person, read and replaced whole).

Other domains import this module only: `from mindspace.safety import service as safety`.

The gate (`assess_off_loop`) is the rules, plus the learned layer (safety.classifier) once
this process has loaded it. An app loads it in the background at start-up
(`classifier_while_running`, about 6 s for the embedding model; the layer's own weights are a
small file); until then, and always when settings turn embeddings off or the `ai` extra is
missing, the rules alone assess. No request waits for the model, and readiness holds traffic
back until it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform import embeddings
from mindspace.platform.config import Settings
from mindspace.platform.security import Principal
from mindspace.safety.assessment import (
    CONTEXT_ONLY_SIGNALS,
    Assessment,
    AssessmentContext,
    RiskLevel,
    Signal,
)
from mindspace.safety.classifier import Classifier, Encoder, model
from mindspace.safety.engine import assess, negated_clauses, readable
from mindspace.safety.models import PLAN_SECTIONS
from mindspace.safety.models import SafetyPlan as SafetyPlanRow
from mindspace.safety.resources import crisis_resources
from mindspace.safety.schemas import CrisisResources, CrisisSupport, SafetyPlan, SafetyPlanInput

log = logging.getLogger(__name__)

__all__ = [
    "CONTEXT_ONLY_SIGNALS",
    "Assessment",
    "AssessmentContext",
    "Classifier",
    "CrisisResources",
    "CrisisSupport",
    "RiskLevel",
    "Signal",
    "active_classifier",
    "assess",
    "assess_off_loop",
    "classifier_layer",
    "classifier_while_running",
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
    """The gate, for async callers: the rules, and the learned layer when this process has
    it. Encoding (about 15 ms a message) and long texts run in a worker thread."""
    layer = _active
    if layer is None and len(text) <= _ON_LOOP_CHARS:
        return assess(text, context)
    return await asyncio.to_thread(assess, text, context, classifier=layer)


@cache
def classifier_layer(encoder: Encoder) -> Classifier:
    """The learned layer over this encoder, with the shipped weights."""
    return Classifier(encoder, model(), prepare=readable, negated=negated_clauses)


# The layer the gate uses in this process; None means the rules alone. One per process, like
# the model it holds, and set only by an app's start-up (or a test standing in for one).
_active: Classifier | None = None


def active_classifier() -> Classifier | None:
    return _active


def _use(layer: Classifier | None) -> None:
    global _active  # the process-wide switch, by design
    _active = layer


async def _load_classifier(settings: Settings) -> None:
    try:
        encoder = await embeddings.load_in_background(settings)
        if encoder is None:
            log.info("safety learned layer off: embeddings disabled or the `ai` extra missing")
            return
        layer = await asyncio.to_thread(classifier_layer, encoder)
    except Exception:
        # The rules still stand; a broken model install must not take the service down.
        log.exception("safety learned layer failed to load; the rules alone assess")
        return
    _use(layer)
    log.info("safety learned layer on", extra={"thresholds": str(layer.thresholds)})


@contextlib.asynccontextmanager
async def classifier_while_running(settings: Settings) -> AsyncIterator[asyncio.Task[None]]:
    """For an app's lifespan: loads the learned layer in the background and has the gate use
    it once loaded; the rules alone until then. Yields the loading task (done at once when
    embeddings are off), which readiness waits for. On exit the process's previous layer is
    put back."""
    previous = _active
    _use(None)
    task = asyncio.create_task(_load_classifier(settings))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        _use(previous)


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

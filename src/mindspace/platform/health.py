"""Liveness and readiness. Plain Starlette routes: a load balancer polls these several times a
second, so they skip FastAPI's dependency machinery and touch the database once."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mindspace.platform.db import Database
from mindspace.platform.errors import problem_response
from mindspace.platform.migrate import head_revision

log = logging.getLogger(__name__)
_READY_TIMEOUT_S = 2.0
_VERSION_SQL = "SELECT version_num FROM alembic_version"


async def live(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    # Work the app does after start-up before it should take traffic (the embedding model).
    if any(not task.done() for task in getattr(request.app.state, "warm_up", ())):
        return _not_ready("Still warming up: a model is loading.")
    db: Database = request.app.state.db
    try:
        async with asyncio.timeout(_READY_TIMEOUT_S), db.driver() as conn:
            # Straight to the driver: one round trip, none of the ORM's per-statement work.
            current = await conn.fetchval(_VERSION_SQL)
    except Exception as exc:  # any failure to answer is "not ready", never a 500
        log.warning("readiness: database unreachable", extra={"error": repr(exc)})
        return _not_ready("The database is not reachable.")
    expected = head_revision()
    if current != expected:
        return _not_ready(f"Database schema is at {current}, expected {expected}.")
    return JSONResponse({"status": "ready", "database": "ok", "schema": current})


def _not_ready(detail: str) -> Response:
    return problem_response(
        status=503,
        type_slug="not-ready",
        title="Service not ready",
        detail=detail,
        headers={"Retry-After": "5"},
    )


routes = [
    Route("/health/live", live, methods=["GET"]),
    Route("/health/ready", ready, methods=["GET"]),
]

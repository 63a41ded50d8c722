"""The one registration hook through which a domain joins the product.

A domain describes itself with a `Domain`: its router, its demo content, its part of a person's
data export. The composition root (`mindspace.app`) lists the domains; the platform calls them
without knowing any of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import procrastinate
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.db import Database
from mindspace.platform.realtime.rooms import RoomRegistrar
from mindspace.platform.relay import EventBus
from mindspace.platform.security import Principal

Seeder = Callable[[Database], Awaitable[list[str]]]
Exporter = Callable[[AsyncSession, Principal], Awaitable[dict[str, Any]]]
# Wires the domain's event handlers onto the bus; handlers may defer jobs on the jobs app.
Subscriber = Callable[[EventBus, procrastinate.App], None]


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    router: APIRouter | None = None
    # Adds demo content idempotently; returns lines to print for a newcomer (sign-in details).
    seed: Seeder | None = None
    # The domain's part of "export all my data": JSON-ready, read in the person's own scope.
    export: Exporter | None = None
    # Background tasks, added to the jobs app under the domain's name as namespace.
    jobs: procrastinate.Blueprint | None = None
    # Upload routes allowed a larger body than the global limit: path under /api/v1 -> bytes.
    body_limits: dict[str, int] = field(default_factory=dict)
    subscribe: Subscriber | None = None
    # Registers the Socket.IO room kinds the domain owns and who may join them.
    rooms: RoomRegistrar | None = None


async def run_seeders(db: Database, domains: list[Domain]) -> list[str]:
    lines: list[str] = []
    for domain in domains:
        if domain.seed is not None:
            lines.extend(await domain.seed(db))
    return lines

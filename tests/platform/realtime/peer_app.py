"""A real API process for the cross-process tests: the app as `mindspace api` builds it, plus
one route through which the test makes this process emit, and a `group` room anyone may join."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from mindspace.app import DOMAINS, create_app
from mindspace.platform.db import Database
from mindspace.platform.domains import Domain
from mindspace.platform.realtime import Realtime, RoomRegistry
from mindspace.platform.security import Principal


class Emit(BaseModel):
    event: str
    data: dict[str, Any]
    user_id: uuid.UUID | None = None
    room: str | None = None


def _open_groups(rooms: RoomRegistry, db: Database) -> None:
    async def anyone(principal: Principal, group_id: uuid.UUID) -> bool:
        return True

    rooms.register("group", anyone, id_prefix="grp")


def create() -> FastAPI:
    DOMAINS.append(Domain(name="peer_testing", rooms=_open_groups))
    app = create_app()

    @app.post("/test/emit")
    async def emit(body: Emit) -> dict[str, int | None]:
        realtime: Realtime = app.state.realtime
        if body.user_id is not None:
            return {"seq": await realtime.emit_to_user(body.user_id, body.event, body.data)}
        assert body.room is not None
        await realtime.emit_to_room(body.room, body.event, body.data)
        return {"seq": None}

    return app

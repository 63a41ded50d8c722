from __future__ import annotations

import uuid

from mindspace.companion import jobs, service
from mindspace.companion.api import router
from mindspace.platform.db import Database
from mindspace.platform.domains import Domain
from mindspace.platform.realtime import RoomRegistry
from mindspace.platform.security import Principal


def register_rooms(rooms: RoomRegistry, db: Database) -> None:
    async def may_join(principal: Principal, conversation_id: uuid.UUID) -> bool:
        async with db.session(principal) as session:
            return await service.may_join(session, principal, conversation_id)

    rooms.register(service.ROOM_KIND, may_join, id_prefix="cnv")


domain = Domain(
    name="companion",
    router=router,
    export=service.export_companion,
    rooms=register_rooms,
    jobs=jobs.blueprint,
    subscribe=jobs.subscribe,
)

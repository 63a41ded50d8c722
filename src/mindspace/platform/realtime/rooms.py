"""Who may be in which room.

Rooms are named `<kind>:<uuid>` on the server (`user:…`, `conversation:…`, `group:…`) and
`admin`. `user:<id>` and `admin` are joined automatically at connect; every other kind is
joined on request, and only when the domain that owns the kind says yes. A kind no domain has
registered cannot be joined at all: deny by default.

Clients name a room with the public id of its resource (`conversation:cnv_01J…`), the only id
they ever see; the registry turns that into the server's name with the kind's id prefix.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mindspace.platform import ids
from mindspace.platform.security import Principal

if TYPE_CHECKING:
    from mindspace.platform.db import Database

log = logging.getLogger(__name__)

USER_KIND = "user"
ADMIN_ROOM = "admin"
AUTOMATIC_KINDS = frozenset({USER_KIND, ADMIN_ROOM})
_KIND = re.compile(r"^[a-z][a-z_]{1,30}$")

# May this person be in the room of this resource? False for a resource that does not exist,
# too: a refusal never says which of the two it was.
RoomCheck = Callable[[Principal, uuid.UUID], Awaitable[bool]]
# A domain's hook (Domain.rooms): registers its kinds; the checks may use the database.
RoomRegistrar = Callable[["RoomRegistry", "Database"], None]


def room_name(kind: str, resource_id: uuid.UUID) -> str:
    """The server-side name emitters use: `room_name("group", group.id)`."""
    return f"{kind}:{resource_id}"


def user_room(user_id: uuid.UUID) -> str:
    return room_name(USER_KIND, user_id)


def is_user_room(room: str) -> bool:
    return room.startswith(USER_KIND + ":")


class RoomRefused(Exception):
    """A join or leave the server turns down; `type` and `detail` go back to the client."""

    def __init__(self, type_: str, detail: str) -> None:
        super().__init__(detail)
        self.type = type_
        self.detail = detail

    def payload(self) -> dict[str, str]:
        return {"type": self.type, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class _Kind:
    id_prefix: str
    check: RoomCheck


@dataclass(frozen=True, slots=True)
class RoomRef:
    kind: str
    resource_id: uuid.UUID

    @property
    def name(self) -> str:
        return room_name(self.kind, self.resource_id)


class RoomRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, _Kind] = {}

    def register(self, kind: str, check: RoomCheck, *, id_prefix: str) -> None:
        """Lets members join `<kind>:<id_prefix>_<ULID>` rooms when `check` says yes."""
        if not _KIND.match(kind) or kind in AUTOMATIC_KINDS:
            raise ValueError(f"room kind {kind!r} cannot be registered")
        if kind in self._kinds:
            raise ValueError(f"room kind {kind!r} is already registered")
        self._kinds[kind] = _Kind(id_prefix, check)

    def parse(self, text: object) -> RoomRef:
        """The room a client names, or RoomRefused for anything it may not ask for."""
        if not isinstance(text, str) or len(text) > 100:
            raise RoomRefused("invalid-room", 'Name a room as "<kind>:<id>", e.g. group:grp_01J…')
        kind, sep, public = text.partition(":")
        if kind in AUTOMATIC_KINDS:
            raise RoomRefused(
                "automatic-room", "Your own room and the staff room are joined at connect."
            )
        registered = self._kinds.get(kind)
        if not sep or registered is None:
            raise RoomRefused("room-denied", "You cannot join this room.")
        try:
            return RoomRef(kind, ids.decode(registered.id_prefix, public))
        except ids.InvalidIdError:
            raise RoomRefused(
                "invalid-room", f"Expected {kind}:{registered.id_prefix}_ followed by 26 characters"
            ) from None

    async def allows(self, principal: Principal, room: RoomRef) -> bool:
        registered = self._kinds.get(room.kind)
        if registered is None:
            return False
        try:
            return await registered.check(principal, room.resource_id) is True
        except Exception:
            # A failing check must not open the room, nor take the connection down.
            log.exception("room check failed", extra={"room_kind": room.kind})
            return False

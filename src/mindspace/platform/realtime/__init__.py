"""Realtime: Socket.IO for connected clients, with per-person sequence numbers and replay.

Domains push with `Realtime` (`app.state.realtime`; `context.additional_context["realtime"]`
in a job) and open rooms of their own kinds with `RoomRegistry.register` through their
`Domain.rooms` hook. The protocol clients speak is described in `server`.
"""

from mindspace.platform.realtime.replay import ReplayWindow
from mindspace.platform.realtime.rooms import (
    ADMIN_ROOM,
    RoomCheck,
    RoomRegistrar,
    RoomRegistry,
    room_name,
    user_room,
)
from mindspace.platform.realtime.server import Realtime, RealtimeServer, worker_realtime

__all__ = [
    "ADMIN_ROOM",
    "Realtime",
    "RealtimeServer",
    "ReplayWindow",
    "RoomCheck",
    "RoomRegistrar",
    "RoomRegistry",
    "room_name",
    "user_room",
    "worker_realtime",
]

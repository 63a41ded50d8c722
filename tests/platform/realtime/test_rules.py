"""The pure rules behind realtime: when a reconnecting client can be replayed to, and which
rooms a registry lets anyone name or join."""

from __future__ import annotations

import uuid

import pytest

from mindspace.platform import ids
from mindspace.platform.ids import new_id
from mindspace.platform.realtime.replay import Delivery, ReplayWindow, judge
from mindspace.platform.realtime.rooms import RoomRefused, RoomRegistry
from mindspace.platform.security import Principal

WINDOW = ReplayWindow(events=500, seconds=3600)
NOW_MS = 1_800_000_000_000


def kept(first: int, last: int, *, at_ms: int = NOW_MS - 1000) -> list[Delivery]:
    return [Delivery(seq, "note", {}, at_ms) for seq in range(first, last + 1)]


def test_a_new_connection_and_a_client_that_is_up_to_date_get_nothing() -> None:
    assert judge(100, None, [], WINDOW, NOW_MS).events == ()
    assert not judge(100, None, [], WINDOW, NOW_MS).resync
    assert not judge(100, 100, [], WINDOW, NOW_MS).resync


def test_every_event_after_last_seq_still_kept_is_replayed_in_order() -> None:
    missed = judge(105, 100, kept(101, 105), WINDOW, NOW_MS)
    assert [d.seq for d in missed.events] == [101, 102, 103, 104, 105]
    assert not missed.resync


@pytest.mark.parametrize(
    ("last_seq", "events"),
    [
        (90, kept(101, 105)),  # the oldest missed ones were trimmed (more than `events`)
        (100, kept(101, 103)),  # the newest are not all there
        (100, []),  # the log expired
        (106, []),  # a number this server never gave (a lost in-process log)
        (100, kept(101, 105, at_ms=NOW_MS - 3600_000 - 1)),  # older than `seconds`
    ],
)
def test_a_gap_not_wholly_inside_the_window_is_a_resync(
    last_seq: int, events: list[Delivery]
) -> None:
    missed = judge(105, last_seq, events, WINDOW, NOW_MS)
    assert missed.resync
    assert missed.events == ()
    assert missed.current == 105


def test_the_window_s_edge_is_still_inside() -> None:
    assert not judge(105, 100, kept(101, 105, at_ms=NOW_MS - 3600_000), WINDOW, NOW_MS).resync


async def _yes(principal: Principal, resource_id: uuid.UUID) -> bool:
    return True


@pytest.mark.parametrize("kind", ["user", "admin", "Group", "g", "group:x", ""])
def test_automatic_and_malformed_kinds_cannot_be_registered(kind: str) -> None:
    with pytest.raises(ValueError, match="cannot be registered"):
        RoomRegistry().register(kind, _yes, id_prefix="grp")


def test_a_kind_is_registered_once() -> None:
    rooms = RoomRegistry()
    rooms.register("group", _yes, id_prefix="grp")
    with pytest.raises(ValueError, match="already registered"):
        rooms.register("group", _yes, id_prefix="grp")


def test_a_room_is_named_with_the_public_id_and_kept_under_the_uuid() -> None:
    rooms = RoomRegistry()
    rooms.register("group", _yes, id_prefix="grp")
    group_id = new_id()
    room = rooms.parse(f"group:{ids.encode('grp', group_id)}")
    assert room.name == f"group:{group_id}"
    with pytest.raises(RoomRefused) as refused:
        rooms.parse(f"group:{group_id}")
    assert refused.value.type == "invalid-room"


@pytest.mark.asyncio
async def test_a_failing_or_vague_check_keeps_the_room_closed() -> None:
    async def broken(principal: Principal, resource_id: uuid.UUID) -> bool:
        raise RuntimeError("database down")

    async def vague(principal: Principal, resource_id: uuid.UUID) -> bool:
        return "yes"  # type: ignore[return-value]

    rooms = RoomRegistry()
    rooms.register("group", broken, id_prefix="grp")
    rooms.register("circle", vague, id_prefix="cir")
    principal = Principal(user_id=new_id())
    assert not await rooms.allows(principal, rooms.parse(f"group:{ids.encode('grp', new_id())}"))
    assert not await rooms.allows(principal, rooms.parse(f"circle:{ids.encode('cir', new_id())}"))

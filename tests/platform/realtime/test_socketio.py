"""Socket.IO against the real app over websockets: authentication at connect, automatic and
requested rooms, delivery to one person only, replay after a reconnect, resync past the window.
Each test runs once with the in-process replay log and once with Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import socketio
from fastapi import FastAPI

from mindspace.app import build_worker_context
from mindspace.platform import ids
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from mindspace.platform.ids import new_id
from mindspace.platform.realtime import ADMIN_ROOM, Realtime, room_name
from tests.conftest import Person
from tests.platform.realtime.conftest import (
    GROUP_PREFIX,
    REPLAY_EVENTS,
    Client,
    Connect,
    LiveServer,
    expired_token,
)

pytestmark = pytest.mark.asyncio


def group(group_id: uuid.UUID) -> str:
    return f"group:{ids.encode(GROUP_PREFIX, group_id)}"


async def refused(live: LiveServer, auth: object) -> object:
    client = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.sio.connect(live.url, auth=auth, transports=["websocket"], wait_timeout=5)
    assert not client.sio.connected
    return client.connect_error


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": 42}, "a-token"])
async def test_a_connection_without_a_token_is_refused(live: LiveServer, auth: object) -> None:
    error = await refused(live, auth)
    assert error == {
        "message": "unauthenticated",
        "data": {
            "type": "unauthenticated",
            "detail": "Send your access token in the handshake: auth = {token: …}.",
        },
    }


@pytest.mark.parametrize(
    "token", ["not-a-jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "Bearer something"]
)
async def test_a_connection_with_a_bad_token_is_refused(live: LiveServer, token: str) -> None:
    error = await refused(live, {"token": token})
    assert isinstance(error, dict)
    assert error["data"]["type"] == "unauthenticated"


async def test_a_connection_with_an_expired_token_is_refused(
    live: LiveServer, user: Person
) -> None:
    error = await refused(live, {"token": expired_token(live.tokens, user.principal)})
    assert isinstance(error, dict)
    assert error["data"]["type"] == "unauthenticated"


async def test_a_connection_for_a_signed_out_session_is_refused(
    live: LiveServer, user: Person
) -> None:
    assert user.principal.session_id is not None
    await live.tokens.revocations.revoke(user.principal.session_id)
    error = await refused(live, {"token": user.token})
    assert isinstance(error, dict)
    assert error["data"] == {
        "type": "unauthenticated",
        "detail": "This session has ended. Sign in again.",
    }


@pytest.mark.parametrize("last_seq", [-1, "7", 1.5, True])
async def test_a_malformed_last_seq_is_refused(
    live: LiveServer, user: Person, last_seq: object
) -> None:
    error = await refused(live, {"token": user.token, "last_seq": last_seq})
    assert isinstance(error, dict)
    assert error["data"]["type"] == "invalid-last-seq"


async def test_an_event_for_a_person_reaches_only_that_person(
    live: LiveServer, connect: Connect, user: Person, other_user: Person
) -> None:
    mine = await connect(live.url, token=user.token)
    second_device = await connect(live.url, token=user.token)
    theirs = await connect(live.url, token=other_user.token)
    _, ready = await mine.until_ready()
    await second_device.until_ready()
    await theirs.until_ready()
    assert ready["user"] == ids.encode("usr", user.id)

    seq = await live.realtime.emit_to_user(user.id, "mood.logged", {"score": 7})

    assert seq == ready["seq"] + 1
    assert await mine.next() == ("mood.logged", {"seq": seq, "data": {"score": 7}})
    assert await second_device.next() == ("mood.logged", {"seq": seq, "data": {"score": 7}})
    assert await theirs.quiet() == []


async def test_sequence_numbers_grow_by_one_per_person(
    live: LiveServer, connect: Connect, user: Person, other_user: Person
) -> None:
    client = await connect(live.url, token=user.token)
    _, ready = await client.until_ready()
    first = await live.realtime.emit_to_user(user.id, "n", {"n": 1})
    await live.realtime.emit_to_user(other_user.id, "n", {"n": 1})
    second = await live.realtime.emit_to_user(user.id, "n", {"n": 2})
    assert (first, second) == (ready["seq"] + 1, ready["seq"] + 2)
    assert [await client.next(), await client.next()] == [
        ("n", {"seq": first, "data": {"n": 1}}),
        ("n", {"seq": second, "data": {"n": 2}}),
    ]


async def test_staff_are_in_the_admin_room_and_members_are_not(
    live: LiveServer, connect: Connect, user: Person, admin: Person
) -> None:
    staff = await connect(live.url, token=admin.token)
    member = await connect(live.url, token=user.token)
    await staff.until_ready()
    await member.until_ready()

    await live.realtime.emit_to_room(ADMIN_ROOM, "crisis.alert", {"alert": "crs_1"})

    assert await staff.next() == ("crisis.alert", {"alert": "crs_1"})
    assert await member.quiet() == []


async def test_a_member_joins_a_room_they_are_allowed_in_and_no_other(
    live: LiveServer,
    connect: Connect,
    user: Person,
    other_user: Person,
    group_members: set[tuple[uuid.UUID, uuid.UUID]],
) -> None:
    mine, theirs = new_id(), new_id()
    group_members.update({(user.id, mine), (other_user.id, theirs)})
    client = await connect(live.url, token=user.token)
    await client.until_ready()

    assert await client.call("join", {"room": group(mine)}) == {"ok": True, "room": group(mine)}
    assert await client.call("join", {"room": group(theirs)}) == {
        "ok": False,
        "room": group(theirs),
        "error": {"type": "room-denied", "detail": "You cannot join this room."},
    }
    await live.realtime.emit_to_room(room_name("group", theirs), "post.created", {"n": 1})
    await live.realtime.emit_to_room(room_name("group", mine), "post.created", {"n": 2})
    assert await client.next() == ("post.created", {"n": 2})
    assert await client.quiet() == []

    assert await client.call("leave", {"room": group(mine)}) == {"ok": True, "room": group(mine)}
    await live.realtime.emit_to_room(room_name("group", mine), "post.created", {"n": 3})
    assert await client.quiet() == []


@pytest.mark.parametrize(
    ("asked", "error_type"),
    [
        # No domain registered conversations here: a kind without a check cannot be joined.
        (f"conversation:cnv_{'0' * 26}", "room-denied"),
        ("nonsense", "room-denied"),
        ("group:usr_01JD8X4V2Q0000000000000000", "invalid-room"),
        ("group:grp_not-an-id", "invalid-room"),
        (42, "invalid-room"),
        ("admin", "automatic-room"),
        ("user:usr_01JD8X4V2Q0000000000000000", "automatic-room"),
    ],
)
async def test_joining_what_may_not_be_joined_answers_why(
    live: LiveServer, connect: Connect, user: Person, asked: object, error_type: str
) -> None:
    client = await connect(live.url, token=user.token)
    await client.until_ready()
    answer = await client.call("join", {"room": asked})
    assert answer["ok"] is False
    assert answer["error"]["type"] == error_type
    assert answer["error"]["detail"]


async def test_a_session_signed_out_after_connecting_joins_nothing_more(
    live: LiveServer,
    connect: Connect,
    user: Person,
    group_members: set[tuple[uuid.UUID, uuid.UUID]],
) -> None:
    group_id = new_id()
    group_members.add((user.id, group_id))
    client = await connect(live.url, token=user.token)
    await client.until_ready()
    assert user.principal.session_id is not None
    await live.tokens.revocations.revoke(user.principal.session_id)
    answer = await client.call("join", {"room": group(group_id)})
    assert answer["error"]["type"] == "unauthenticated"


async def test_a_session_signed_out_while_connected_is_disconnected(
    live: LiveServer, connect: Connect, user: Person, other_user: Person
) -> None:
    client = await connect(live.url, token=user.token)
    bystander = await connect(live.url, token=other_user.token)
    await client.until_ready()
    await bystander.until_ready()
    assert user.principal.session_id is not None

    await live.tokens.revocations.revoke(user.principal.session_id)

    assert await client.next() == (
        "session_ended",
        {"detail": "This session has ended. Sign in again."},
    )
    await client.sio.wait()  # returns once the server has closed the connection
    assert not client.sio.connected
    await live.realtime.emit_to_user(other_user.id, "note", {})
    assert (await bystander.next())[0] == "note"


async def test_a_reconnecting_client_gets_what_it_missed_in_order(
    live: LiveServer, connect: Connect, user: Person
) -> None:
    first = await connect(live.url, token=user.token)
    _, ready = await first.until_ready()
    await first.close()
    sent = [await live.realtime.emit_to_user(user.id, "note", {"n": n}) for n in range(3)]

    again = await connect(live.url, token=user.token, last_seq=ready["seq"])
    replayed, ready_again = await again.until_ready()

    assert replayed == [("note", {"seq": s, "data": {"n": n}}) for n, s in enumerate(sent)]
    assert ready_again["seq"] == sent[-1]
    live_seq = await live.realtime.emit_to_user(user.id, "note", {"n": 3})
    assert await again.next() == ("note", {"seq": live_seq, "data": {"n": 3}})


async def test_a_client_that_missed_nothing_gets_nothing_again(
    live: LiveServer, connect: Connect, user: Person
) -> None:
    first = await connect(live.url, token=user.token)
    await first.until_ready()
    seq = await live.realtime.emit_to_user(user.id, "note", {})
    assert (await first.next())[1]["seq"] == seq
    await first.close()
    again = await connect(live.url, token=user.token, last_seq=seq)
    assert await again.until_ready() == ([], {"seq": seq, "user": ids.encode("usr", user.id)})


async def test_a_gap_longer_than_the_window_asks_the_client_to_resync(
    live: LiveServer, connect: Connect, user: Person
) -> None:
    first = await connect(live.url, token=user.token)
    _, ready = await first.until_ready()
    await first.close()
    for n in range(REPLAY_EVENTS + 2):
        last = await live.realtime.emit_to_user(user.id, "note", {"n": n})

    again = await connect(live.url, token=user.token, last_seq=ready["seq"])
    before, ready_again = await again.until_ready()

    assert before == [("resync", {"seq": last})]
    assert ready_again["seq"] == last


async def test_a_full_window_is_still_replayed(
    live: LiveServer, connect: Connect, user: Person
) -> None:
    first = await connect(live.url, token=user.token)
    _, ready = await first.until_ready()
    await first.close()
    sent = [await live.realtime.emit_to_user(user.id, "note", {}) for _ in range(REPLAY_EVENTS)]
    again = await connect(live.url, token=user.token, last_seq=ready["seq"])
    replayed, _ = await again.until_ready()
    assert [data["seq"] for _, data in replayed] == sent


@pytest.mark.parametrize("offset", [1, 10**9])
async def test_a_sequence_the_server_never_gave_asks_the_client_to_resync(
    live: LiveServer, connect: Connect, user: Person, offset: int
) -> None:
    """A client from before a restart of the in-process log, or holding a made-up number."""
    first = await connect(live.url, token=user.token)
    _, ready = await first.until_ready()
    await first.close()
    again = await connect(live.url, token=user.token, last_seq=ready["seq"] + offset)
    before, _ = await again.until_ready()
    assert before == [("resync", {"seq": ready["seq"]})]


async def test_events_sent_while_a_client_catches_up_are_neither_lost_nor_reordered(
    live: LiveServer, connect: Connect, user: Person
) -> None:
    first = await connect(live.url, token=user.token)
    _, ready = await first.until_ready()
    await first.close()
    for _ in range(3):
        await live.realtime.emit_to_user(user.id, "note", {})

    async def keep_sending() -> list[int]:
        sent = []
        for _ in range(40):
            sent.append(await live.realtime.emit_to_user(user.id, "note", {}))
            await asyncio.sleep(0.001)
        return sent

    sender = asyncio.create_task(keep_sending())
    again = await connect(live.url, token=user.token, last_seq=ready["seq"])
    sent = await sender
    seen: list[int] = []
    while not seen or seen[-1] < sent[-1]:
        event, data = await again.next()
        if event == "note":
            seen.append(data["seq"])
        else:
            assert event == "ready"
    # The client's rule: apply an event only when its seq is above the last one applied.
    applied = [s for n, s in enumerate(seen) if n == 0 or s > seen[n - 1]]
    assert seen == sorted(seen)
    assert applied == list(range(ready["seq"] + 1, sent[-1] + 1))


async def test_a_person_s_room_and_the_protocol_s_events_are_not_for_emit_to_room(
    live: LiveServer, user: Person
) -> None:
    with pytest.raises(ValueError, match="emit_to_user"):
        await live.realtime.emit_to_room(f"user:{user.id}", "note", {})
    for reserved in ("ready", "resync", "connect", "disconnect"):
        with pytest.raises(ValueError, match="reserved"):
            await live.realtime.emit_to_user(user.id, reserved, {})
    with pytest.raises(TypeError):
        await live.realtime.emit_to_user(user.id, "note", {"not": object()})


async def test_background_jobs_find_the_realtime_in_their_context(
    app: FastAPI, db: Database, settings: Settings
) -> None:
    inside_the_api = build_worker_context(db, settings, realtime=app.state.realtime)
    assert inside_the_api["realtime"] is app.state.realtime
    separate = build_worker_context(db, settings)
    assert isinstance(separate["realtime"], Realtime)
    await separate["realtime"].aclose()


async def test_emitting_with_redis_from_a_worker_reaches_the_api_s_clients(
    live: LiveServer, connect: Connect, user: Person, admin: Person, db: Database
) -> None:
    """A worker process has no Socket.IO server: it writes through Redis (write-only)."""
    if live.app.state.settings.redis_url is None:
        pytest.skip("in-process: a separate worker reaches no client without Redis")
    realtime: Realtime = build_worker_context(db, live.app.state.settings)["realtime"]
    client = await connect(live.url, token=user.token)
    staff = await connect(live.url, token=admin.token)
    _, ready = await client.until_ready()
    await staff.until_ready()

    try:
        seq = await realtime.emit_to_user(user.id, "reminder.due", {"at": "09:00"})
        await realtime.emit_to_room(ADMIN_ROOM, "crisis.alert", {"alert": "crs_2"})
    finally:
        await realtime.aclose()

    assert seq == ready["seq"] + 1
    assert await client.next() == ("reminder.due", {"seq": seq, "data": {"at": "09:00"}})
    assert await staff.next() == ("crisis.alert", {"alert": "crs_2"})
    assert await client.quiet() == []

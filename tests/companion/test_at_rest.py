"""What the database holds of a conversation: no plaintext (messages or the engine's memory of
a guided flow), ciphertexts bound to their row and owner; and what a person takes with them or
leaves behind: the export opens everything, erasure removes everything."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.companion import service
from mindspace.platform.crypto import DecryptionError, Vault
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import decode
from mindspace.platform.pagination import PageParams
from tests.companion.conftest import count, send, start
from tests.conftest import Person, database_dump, visible_in

pytestmark = pytest.mark.asyncio
SECRETS = ("Quixotic", "marmalade", "Zanzibar")
TABLES = ("companion_conversation", "companion_message", "companion_safety_transition")


async def test_a_dump_holds_no_plaintext_of_messages_or_flow_answers(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    await send(client, user, conversation, "Quixotic thoughts about marmalade")
    # A thought record keeps the person's answers in the engine state between turns.
    await send(client, user, conversation, "I'd like to do a thought record")
    await send(client, user, conversation, "A meeting in Zanzibar went badly")
    dump = await database_dump(owner_engine)
    assert "normal" in dump  # the dump does read the rows
    for secret in SECRETS:
        assert not visible_in(dump, secret), secret
    assert not visible_in(dump, "not a therapist")  # even the companion's own words are sealed


async def _copy_sealed(owner_engine: AsyncEngine, *, source: str, target: str) -> None:
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE companion_message SET content_sealed = "
                "(SELECT content_sealed FROM companion_message WHERE id = :source) "
                "WHERE id = :target"
            ),
            {"source": decode("cmsg", source), "target": decode("cmsg", target)},
        )


async def _history(db: Database, app: FastAPI, person: Person, conversation: str) -> list[str]:
    vault: Vault = app.state.vault
    async with db.session(person.principal) as session:
        detail = await service.get_conversation(
            session,
            person.principal,
            vault,
            conversation_id=decode("cnv", conversation),
            params=PageParams(),
        )
    return [m.content for m in detail.messages.items]


async def test_a_ciphertext_moved_to_another_message_or_person_does_not_open(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    user: Person,
    other_user: Person,
    owner_engine: AsyncEngine,
) -> None:
    conversation = await start(client, user)
    first = (await send(client, user, conversation, "first"))["message"]["id"]
    second = (await send(client, user, conversation, "second"))["message"]["id"]
    assert "second" in await _history(db, app, user, conversation)
    await _copy_sealed(owner_engine, source=first, target=second)
    with pytest.raises(DecryptionError):
        await _history(db, app, user, conversation)

    theirs = await start(client, other_user)
    their_message = (await send(client, other_user, theirs, "theirs"))["message"]["id"]
    mine = await start(client, user)
    my_message = (await send(client, user, mine, "mine"))["message"]["id"]
    await _copy_sealed(owner_engine, source=their_message, target=my_message)
    with pytest.raises(DecryptionError):
        await _history(db, app, user, mine)


async def test_staff_cannot_read_messages_even_in_the_admin_scope(
    client: httpx.AsyncClient, db: Database, user: Person, admin: Person
) -> None:
    conversation = await start(client, user)
    await send(client, user, conversation, "hello")
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        messages = (await session.execute(text("SELECT count(*) FROM companion_message"))).scalar()
        conversations = (
            await session.execute(text("SELECT count(*) FROM companion_conversation"))
        ).scalar()
    assert messages == 0
    assert conversations == 1  # a reviewer may see its state, to clear it


async def test_the_export_opens_my_conversations_and_no_one_elses(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    conversation = await start(client, user)
    await send(client, user, conversation, "Quixotic marmalade")
    await send(client, other_user, await start(client, other_user), "not mine")
    async with db.session(user.principal) as session:
        exported = await service.export_companion(session, user.principal)
    [mine] = exported["conversations"]
    assert mine["id"] == conversation
    contents = [m["content"] for m in mine["messages"]]
    assert contents[0].startswith("I'm Mindspace's AI wellbeing companion")
    assert contents[1] == "Quixotic marmalade"
    assert len(contents) == 3
    assert "not mine" not in str(exported)


async def test_erasing_the_account_takes_every_conversation_with_it(
    client: httpx.AsyncClient, user: Person, other_user: Person, owner_engine: AsyncEngine
) -> None:
    conversation = await start(client, user)
    await send(client, user, conversation, "I feel so hopeless and like a burden")
    await send(client, other_user, await start(client, other_user), "hello")
    async with owner_engine.begin() as conn:
        await conn.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
    async with owner_engine.connect() as conn:
        for table in TABLES:
            left = await conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE owner_id = :id"),  # noqa: S608
                {"id": user.id},
            )
            assert left.scalar_one() == 0, table
    assert await count(owner_engine, "companion_message") == 3  # the other person's remain

"""What the database holds: no plaintext, values bound to their row and owner, and nothing
left to open once a person's key is shredded."""

from __future__ import annotations

import os

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.journal import service
from mindspace.journal.schemas import Entry, EntryCreate
from mindspace.platform import crypto
from mindspace.platform.crypto import DecryptionError, MasterKeys, Vault
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import decode
from tests.conftest import Person, assert_problem, database_dump, visible_in
from tests.journal.conftest import ENTRIES, write_entry

pytestmark = pytest.mark.asyncio
SECRETS = ("Quixotic", "marmalade", "Zanzibar", "heliotrope", "Ozymandias")


async def test_a_database_dump_holds_no_plaintext(
    client: httpx.AsyncClient, user: Person, owner_engine: AsyncEngine
) -> None:
    await write_entry(
        client,
        user,
        title="Quixotic evening",
        body="<p>Toast with <em>marmalade</em>, thinking of Zanzibar.</p>",
        tags=["heliotrope"],
    )
    prompt = await client.post(
        "/api/v1/journal/custom-prompts", json={"text": "Ozymandias?"}, headers=user.headers
    )
    assert prompt.status_code == 201
    dump = await database_dump(owner_engine)
    assert user.email in dump  # the dump does read the tables: identity's email is there
    for secret in SECRETS:
        assert not visible_in(dump, secret), secret


async def test_staff_cannot_read_journals_even_in_the_admin_scope(
    client: httpx.AsyncClient, db: Database, user: Person, admin: Person
) -> None:
    await write_entry(client, user)
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        for table in ("journal_entry", "user_data_key", "journal_prompt"):
            count = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
            assert count == 0, table


async def _swap_body(owner_engine: AsyncEngine, *, source: str, target: str) -> None:
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE journal_entry SET body_sealed = "
                "(SELECT body_sealed FROM journal_entry WHERE id = :source) WHERE id = :target"
            ),
            {"source": decode("jrn", source), "target": decode("jrn", target)},
        )


async def test_a_ciphertext_moved_to_another_row_does_not_open(
    client: httpx.AsyncClient, db: Database, user: Person, vault: Vault, owner_engine: AsyncEngine
) -> None:
    first = await write_entry(client, user, body="<p>first</p>")
    second = await write_entry(client, user, body="<p>second</p>")
    await _swap_body(owner_engine, source=first["id"], target=second["id"])
    reader = db.reader(user.principal)
    with pytest.raises(DecryptionError):
        await service.get_entry(reader, user.principal, vault, entry_id=decode("jrn", second["id"]))
    entry = await service.get_entry(
        reader, user.principal, vault, entry_id=decode("jrn", first["id"])
    )
    assert entry.body == "<p>first</p>"


async def test_a_ciphertext_moved_to_another_person_does_not_open(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    vault: Vault,
    owner_engine: AsyncEngine,
) -> None:
    theirs = await write_entry(client, other_user, body="<p>theirs</p>")
    mine = await write_entry(client, user, body="<p>mine</p>")
    await _swap_body(owner_engine, source=theirs["id"], target=mine["id"])
    reader = db.reader(user.principal)
    with pytest.raises(DecryptionError):
        await service.get_entry(reader, user.principal, vault, entry_id=decode("jrn", mine["id"]))


async def test_shredding_the_key_makes_entries_unrecoverable(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    user: Person,
    vault: Vault,
    owner_engine: AsyncEngine,
) -> None:
    entry = await write_entry(client, user, body="<p>gone for good</p>")
    async with db.session(user.principal) as session:
        assert await crypto.shred(session, user.id)
    async with owner_engine.connect() as conn:
        sealed = (
            await conn.execute(
                text("SELECT body_sealed FROM journal_entry WHERE id = :id"),
                {"id": decode("jrn", entry["id"])},
            )
        ).scalar_one()
    assert sealed  # the ciphertext is still there (a backup would have it too)...
    async with db.session(user.principal) as session:
        assert await vault.find_data_key(session, user.id) is None  # ...but no key opens it
    assert_problem(await client.get(f"{ENTRIES}/{entry['id']}", headers=user.headers), 404)
    listed = await client.get(ENTRIES, headers=user.headers)
    assert listed.json()["items"] == []


async def test_account_erasure_takes_the_key_and_the_entries(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    owner_engine: AsyncEngine,
) -> None:
    await write_entry(client, user)
    await write_entry(client, other_user)
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
    async with owner_engine.connect() as conn:
        for table in ("user_data_key", "journal_entry"):
            owners = set(
                (await conn.execute(text(f"SELECT owner_id FROM {table}"))).scalars()  # noqa: S608
            )
            assert owners == {other_user.id}, table


async def test_rotation_keeps_every_entry_readable(db: Database, user: Person) -> None:
    old, new = ("old", os.urandom(32)), ("new", os.urandom(32))
    async with db.session(user.principal) as session:
        written = await service.create_entry(
            session, user.principal, Vault(MasterKeys([old])), data=EntryCreate(body="<p>kept</p>")
        )
    assert await Vault(MasterKeys([new, old])).rotate(db) == 1
    reader = db.reader(user.principal)
    opened = await service.get_entry(
        reader, user.principal, Vault(MasterKeys([new])), entry_id=written.id
    )
    assert opened == Entry(**written.model_dump(exclude={"crisis"}))


async def test_the_hot_read_path_sees_only_my_entries_and_key_even_unfiltered(
    client: httpx.AsyncClient, db: Database, user: Person, other_user: Person
) -> None:
    mine = await write_entry(client, user)
    await write_entry(client, other_user)
    reader = db.reader(user.principal)
    entries = await reader.fetch("SELECT id, owner_id FROM journal_entry")
    keys = await reader.fetch("SELECT owner_id FROM user_data_key")
    assert [r["id"] for r in entries] == [decode("jrn", mine["id"])]
    assert {r["owner_id"] for r in keys} == {user.id}

"""Envelope encryption: values open only where they were sealed, rotation loses nothing, and a
shredded key leaves nothing to open."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.platform import crypto
from mindspace.platform.config import Environment, Settings
from mindspace.platform.crypto import (
    DataKey,
    DecryptionError,
    MasterKeys,
    UnknownMasterKey,
    UserDataKey,
    Vault,
)
from mindspace.platform.db import Database
from tests.conftest import Person

ROW = uuid.UUID("01937a2b-0000-7000-8000-000000000001")


def _key(owner: uuid.UUID | None = None) -> DataKey:
    return DataKey(owner or uuid.uuid4(), os.urandom(32))


def test_a_sealed_value_opens_where_it_was_sealed() -> None:
    key = _key()
    sealed = key.seal_text("I felt alone today", purpose="journal_entry.body", row_id=ROW)
    assert b"alone" not in sealed
    assert key.open_text(sealed, purpose="journal_entry.body", row_id=ROW) == "I felt alone today"


def test_sealing_twice_gives_different_ciphertexts() -> None:
    key = _key()
    first = key.seal(b"same", purpose="p", row_id=ROW)
    assert first != key.seal(b"same", purpose="p", row_id=ROW)


def test_a_value_moved_to_another_row_does_not_open() -> None:
    key = _key()
    sealed = key.seal(b"secret", purpose="journal_entry.body", row_id=ROW)
    with pytest.raises(DecryptionError):
        key.open(sealed, purpose="journal_entry.body", row_id=uuid.uuid4())


def test_a_value_moved_to_another_column_does_not_open() -> None:
    key = _key()
    sealed = key.seal(b"secret", purpose="journal_entry.body", row_id=ROW)
    with pytest.raises(DecryptionError):
        key.open(sealed, purpose="journal_entry.title", row_id=ROW)


def test_a_value_moved_to_another_person_does_not_open_even_with_the_same_key_bytes() -> None:
    raw = os.urandom(32)
    sealed = DataKey(uuid.uuid4(), raw).seal(b"secret", purpose="p", row_id=ROW)
    with pytest.raises(DecryptionError):
        DataKey(uuid.uuid4(), raw).open(sealed, purpose="p", row_id=ROW)


def test_a_tampered_value_does_not_open() -> None:
    key = _key()
    sealed = bytearray(key.seal(b"secret", purpose="p", row_id=ROW))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionError):
        key.open(bytes(sealed), purpose="p", row_id=ROW)
    with pytest.raises(DecryptionError, match="format"):
        key.open(b"\x09" + bytes(sealed[1:]), purpose="p", row_id=ROW)


def test_a_wrapped_key_is_bound_to_its_owner_and_its_master_key() -> None:
    master = MasterKeys([("a", os.urandom(32))])
    owner, raw = uuid.uuid4(), os.urandom(32)
    key_id, wrapped = master.wrap(owner, raw)
    assert key_id == "a"
    assert raw not in wrapped
    assert master.unwrap(owner, key_id, wrapped) == raw
    with pytest.raises(DecryptionError):
        master.unwrap(uuid.uuid4(), key_id, wrapped)
    with pytest.raises(UnknownMasterKey):
        master.unwrap(owner, "b", wrapped)


def test_subkeys_differ_by_label_and_by_person() -> None:
    key = _key()
    assert key.subkey("journal.search-words") != key.subkey("journal.search-tags")
    assert key.subkey("journal.search-words") != _key().subkey("journal.search-words")
    assert key.subkey("x") == DataKey(key.owner_id, key._raw).subkey("x")


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"k1": SecretStr("not base64!")}, "not valid base64"),
        ({"k1": SecretStr(base64.b64encode(b"short").decode())}, "must be 32 bytes"),
        ({"bad id": SecretStr(base64.b64encode(os.urandom(32)).decode())}, "must match"),
    ],
)
def test_malformed_master_keys_are_refused_at_start(
    keys: dict[str, SecretStr], problem: str, tmp_path: Path
) -> None:
    settings = Settings(environment=Environment.test, master_keys=keys, data_dir=tmp_path)
    with pytest.raises(ValueError, match=problem):
        MasterKeys.from_settings(settings)


def test_configured_master_keys_wrap_with_the_first(tmp_path: Path) -> None:
    new, old = os.urandom(32), os.urandom(32)
    settings = Settings(
        environment=Environment.test,
        data_dir=tmp_path,
        master_keys={
            "2026-12": SecretStr(base64.b64encode(new).decode()),
            "2026-01": SecretStr(base64.b64encode(old).decode()),
        },
    )
    master = MasterKeys.from_settings(settings)
    assert master.active_id == "2026-12"
    assert master.knows("2026-01")
    assert not (tmp_path / "keys").exists()  # nothing generated when keys are configured


def test_the_development_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = crypto.development_master_key(tmp_path / "keys")
    assert first == crypto.development_master_key(tmp_path / "keys")
    assert (tmp_path / "keys" / "master-key").stat().st_mode & 0o777 == 0o600
    assert first[0].startswith("dev-")
    assert len(first[1]) == 32


@pytest.mark.asyncio
async def test_the_data_key_is_made_once_and_stored_only_wrapped(
    db: Database, user: Person, owner_engine: AsyncEngine
) -> None:
    vault = Vault(MasterKeys([("m1", os.urandom(32))]))
    async with db.session(user.principal) as session:
        first = await vault.data_key(session, user.id)
        again = await vault.data_key(session, user.id)
    assert first._raw == again._raw
    async with owner_engine.connect() as conn:
        (key_id, wrapped) = (
            await conn.execute(
                text("SELECT master_key_id, wrapped_key FROM user_data_key WHERE owner_id = :o"),
                {"o": user.id},
            )
        ).one()
    assert key_id == "m1"
    assert first._raw not in bytes(wrapped)


@pytest.mark.asyncio
async def test_rotation_rewraps_every_key_and_loses_nothing(
    db: Database, user: Person, other_user: Person
) -> None:
    old, new = ("old", os.urandom(32)), ("new", os.urandom(32))
    before = Vault(MasterKeys([old]))
    sealed: dict[uuid.UUID, bytes] = {}
    for person in (user, other_user):
        async with db.session(person.principal) as session:
            key = await before.data_key(session, person.id)
            sealed[person.id] = key.seal(b"kept through rotation", purpose="p", row_id=ROW)

    during = Vault(MasterKeys([new, old]))
    assert await during.rotate(db, batch=1) == 2
    assert await during.rotate(db) == 0  # nothing left under the old key

    after = Vault(MasterKeys([new]))  # the old key is gone entirely
    for person in (user, other_user):
        async with db.session(person.principal) as session:
            found = await after.find_data_key(session, person.id)
            row = (
                await session.execute(select(UserDataKey).where(UserDataKey.owner_id == person.id))
            ).scalar_one()
        assert found is not None
        assert found.open(sealed[person.id], purpose="p", row_id=ROW) == b"kept through rotation"
        assert row.master_key_id == "new"
        assert row.rotated_at is not None


@pytest.mark.asyncio
async def test_rotation_refuses_keys_it_cannot_unwrap(db: Database, user: Person) -> None:
    async with db.session(user.principal) as session:
        await Vault(MasterKeys([("gone", os.urandom(32))])).data_key(session, user.id)
    with pytest.raises(UnknownMasterKey):
        await Vault(MasterKeys([("new", os.urandom(32))])).rotate(db)


@pytest.mark.asyncio
async def test_shredding_leaves_nothing_to_open(db: Database, user: Person) -> None:
    vault = Vault(MasterKeys([("m1", os.urandom(32))]))
    async with db.session(user.principal) as session:
        await vault.data_key(session, user.id)
        assert await crypto.shred(session, user.id)
        assert await vault.find_data_key(session, user.id) is None
        assert not await crypto.shred(session, user.id)


@pytest.mark.asyncio
async def test_one_person_cannot_read_anothers_data_key(
    db: Database, user: Person, other_user: Person
) -> None:
    vault = Vault(MasterKeys([("m1", os.urandom(32))]))
    async with db.session(other_user.principal) as session:
        await vault.data_key(session, other_user.id)
    async with db.session(user.principal) as session:
        assert await vault.find_data_key(session, other_user.id) is None
        assert (await session.execute(select(UserDataKey))).first() is None
    reader = db.reader(user.principal)
    assert await vault.read_data_key(reader, other_user.id) is None


@pytest.mark.asyncio
async def test_a_session_finds_the_vault_of_its_database(app: FastAPI, db: Database) -> None:
    async with db.session(None) as session:
        assert crypto.vault_for(session) is app.state.vault
    other = Database(db.engine.url)
    try:
        async with other.session(None) as session:
            with pytest.raises(RuntimeError, match="no vault"):
                crypto.vault_for(session)
    finally:
        await other.dispose()


@pytest.mark.asyncio
async def test_two_first_writes_at_once_end_with_one_data_key(db: Database, user: Person) -> None:
    vault = Vault(MasterKeys([("m1", os.urandom(32))]))

    async def first_write() -> bytes:
        async with db.session(user.principal) as session:
            key = await vault.data_key(session, user.id)
            await asyncio.sleep(0.05)  # both transactions are open at once
            return key._raw

    one, two = await asyncio.gather(first_write(), first_write())
    assert one == two

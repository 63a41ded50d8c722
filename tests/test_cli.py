"""The `mindspace` command: every command is listed and documents itself."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from mindspace.cli import app
from mindspace.platform.config import get_settings
from mindspace.platform.crypto import MasterKeys
from mindspace.platform.ids import new_id

COMMANDS = ("serve", "api", "worker", "migrate", "seed", "create-admin", "rotate-master-key")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_the_top_level_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in COMMANDS:
        assert command in result.output


def test_no_arguments_shows_the_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_documents_itself(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert command in result.output


def test_an_unknown_command_fails(runner: CliRunner) -> None:
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code != 0


def _account(database_url: str, email: str) -> tuple[str, list[str]] | None:
    """Reads an account as the owner, outside the app (the CLI ran in its own event loop)."""

    async def read() -> tuple[str, list[str]] | None:
        engine = create_async_engine(make_url(database_url).set(drivername="postgresql+asyncpg"))
        try:
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        text("SELECT status, roles FROM user_account WHERE email = :e"),
                        {"e": email},
                    )
                ).first()
        finally:
            await engine.dispose()
        return (row[0], list(row[1])) if row else None

    return asyncio.run(read())


def test_create_admin_creates_once_and_refuses_weak_passwords(
    runner: CliRunner,
    worker_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", worker_database_url)
    monkeypatch.setenv("MINDSPACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MINDSPACE_ADMIN_PASSWORD", "a long admin passphrase 42")
    get_settings.cache_clear()
    email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    try:
        created = runner.invoke(app, ["create-admin", email, "--display-name", "Ops"])
        assert created.exit_code == 0, created.output
        assert _account(worker_database_url, email) == ("active", ["member", "admin"])

        again = runner.invoke(app, ["create-admin", email])
        assert again.exit_code == 1
        assert "already exists" in again.output

        monkeypatch.setenv("MINDSPACE_ADMIN_PASSWORD", "password")
        weak = runner.invoke(app, ["create-admin", f"x-{email}"])
        assert weak.exit_code == 2
        assert _account(worker_database_url, f"x-{email}") is None
    finally:
        get_settings.cache_clear()


def test_rotate_master_key_rewraps_under_the_first_key(
    runner: CliRunner,
    worker_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    owner, data_key = new_id(), os.urandom(32)
    key_id, wrapped = MasterKeys([("old", old)]).wrap(owner, data_key)

    async def sql(statement: str, **values: object) -> list[tuple[object, ...]]:
        engine = create_async_engine(
            make_url(worker_database_url).set(drivername="postgresql+asyncpg")
        )
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement), values)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    asyncio.run(
        sql(
            "INSERT INTO user_account (id, email, password_hash, display_name) "
            "VALUES (:id, :email, 'x', 'Rotation')",
            id=owner,
            email=f"rotate-{owner.hex[:8]}@example.org",
        )
    )
    asyncio.run(
        sql(
            "INSERT INTO user_data_key (owner_id, master_key_id, wrapped_key) VALUES (:o, :k, :w)",
            o=owner,
            k=key_id,
            w=wrapped,
        )
    )
    keys = {"new": base64.b64encode(new).decode(), "old": base64.b64encode(old).decode()}
    monkeypatch.setenv("DATABASE_URL", worker_database_url)
    monkeypatch.setenv("MINDSPACE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MINDSPACE_MASTER_KEYS", json.dumps(keys))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["rotate-master-key"])
        assert result.exit_code == 0, result.output
        assert "under master key new" in result.output
        ((stored_id, stored),) = asyncio.run(
            sql("SELECT master_key_id, wrapped_key FROM user_data_key WHERE owner_id = :o", o=owner)
        )
        assert stored_id == "new"
        assert isinstance(stored, bytes)
        assert MasterKeys([("new", new)]).unwrap(owner, "new", stored) == data_key

        monkeypatch.setenv("MINDSPACE_MASTER_KEYS", json.dumps({"other": keys["old"]}))
        get_settings.cache_clear()
        refused = runner.invoke(app, ["rotate-master-key"])
        assert refused.exit_code == 2
        assert "unknown master key 'new'" in refused.output
    finally:
        get_settings.cache_clear()
        asyncio.run(sql("DELETE FROM user_account WHERE id = :id", id=owner))

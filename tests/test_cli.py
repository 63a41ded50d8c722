"""The `mindspace` command: every command is listed and documents itself."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from mindspace.cli import app
from mindspace.platform.config import get_settings

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

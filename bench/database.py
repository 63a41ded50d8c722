"""The bench database: dropped and created afresh, migrated like production, seeded directly.

Seeding goes around the API on purpose: registration is rate limited and every account or
refresh token made through it would cost an argon2 hash we are not measuring.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import URL, make_url

from mindspace.identity import passwords
from mindspace.identity.tokens import new_refresh_token
from mindspace.platform.ids import new_id
from mindspace.platform.migrate import upgrade

BENCH_DATABASE = "mindspace_bench"
APP_ROLE = "mindspace_app"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# Sign-in is also limited per account (10 a minute), so the login scenario rotates through
# enough accounts that none is used twice in a run, as with many real people signing in.
LOGIN_ACCOUNTS = 5000
LOGIN_EMAIL = "bench-login-{n}@example.org"
LOGIN_PASSWORD = "bench only correct horse"  # noqa: S105 - a throwaway account in a throwaway database
TOKEN_OWNERS = 100
# The mood insights scenario: the login account checks in once a day for two years.
MOOD_HISTORY_DAYS = 730
MOOD_ACTIVITIES = ("yoga", "walking", "work", "friends", "reading", "music")


@dataclass(frozen=True)
class Seeded:
    url: str  # DATABASE_URL for the app and the migrations
    dsn: str  # plain libpq form for asyncpg
    login_user_id: uuid.UUID
    token_owner_ids: tuple[uuid.UUID, ...]


def server_url() -> URL:
    return make_url(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)


def _dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def prepare(server: URL) -> Seeded:
    """Recreates, migrates (blocking, so outside any event loop) and seeds the database."""
    asyncio.run(_recreate(server))
    bench = server.set(database=BENCH_DATABASE)
    url = bench.render_as_string(hide_password=False)
    upgrade(url, app_role=APP_ROLE)
    seeded = asyncio.run(_seed_accounts(url, _dsn(bench)))
    asyncio.run(_seed_mood_history(seeded.dsn, seeded.login_user_id))
    return seeded


async def _recreate(server: URL) -> None:
    maintenance = server.database if server.database != BENCH_DATABASE else "postgres"
    conn = await asyncpg.connect(_dsn(server.set(database=maintenance)))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await conn.close()


async def _seed_accounts(url: str, dsn: str) -> Seeded:
    password_hash = await passwords.hash_password(LOGIN_PASSWORD)
    login_id = new_id()
    owners = tuple(new_id() for _ in range(TOKEN_OWNERS))
    records = [(login_id, LOGIN_EMAIL.format(n=0), password_hash, "Bench login")]
    records += [
        (new_id(), LOGIN_EMAIL.format(n=n), password_hash, "Bench login")
        for n in range(1, LOGIN_ACCOUNTS)
    ]
    records += [
        (owner, f"bench-owner-{n}@example.org", password_hash, "Bench owner")
        for n, owner in enumerate(owners)
    ]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "user_account",
            records=records,
            columns=["id", "email", "password_hash", "display_name"],
        )
    finally:
        await conn.close()
    return Seeded(url=url, dsn=dsn, login_user_id=login_id, token_owner_ids=owners)


def mood_history_start(today: date) -> date:
    return today - timedelta(days=MOOD_HISTORY_DAYS - 1)


async def _seed_mood_history(dsn: str, owner: uuid.UUID) -> None:
    rng = random.Random(730)
    today = datetime.now(UTC).date()
    records = []
    for n in range(MOOD_HISTORY_DAYS):
        day = mood_history_start(today) + timedelta(days=n)
        activities = [a for a in MOOD_ACTIVITIES if rng.random() < 0.35]
        score = min(10, max(1, round(rng.gauss(6.5 if "yoga" in activities else 5.5, 1.5))))
        logged_at = datetime.combine(day, time(rng.randint(7, 21)), tzinfo=UTC)
        records.append((new_id(), owner, score, activities, logged_at))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "mood_checkin",
            records=records,
            columns=["id", "owner_id", "score", "activities", "logged_at"],
        )
    finally:
        await conn.close()


def seed_refresh_tokens(seeded: Seeded, count: int, *, prefix: Path, threads: int) -> None:
    """`count` live sessions with one unused refresh token each; thread t of wrk reads
    `<prefix>-<t>.txt`, so no token is handed to two threads."""
    tokens = asyncio.run(_insert_sessions(seeded.dsn, seeded.token_owner_ids, count))
    for thread in range(threads):
        lines = tokens[thread::threads]
        Path(f"{prefix}-{thread}.txt").write_text("\n".join(lines) + "\n")


async def _insert_sessions(dsn: str, owners: Sequence[uuid.UUID], count: int) -> list[str]:
    expires = datetime.now(UTC) + timedelta(days=1)
    sessions: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []
    refresh: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, bytes]] = []
    tokens: list[str] = []
    for n in range(count):
        owner, session_id = owners[n % len(owners)], new_id()
        token, token_hash = new_refresh_token()
        sessions.append((session_id, owner, expires))
        refresh.append((new_id(), owner, session_id, token_hash))
        tokens.append(token)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "auth_session", records=sessions, columns=["id", "owner_id", "expires_at"]
        )
        await conn.copy_records_to_table(
            "refresh_token",
            records=refresh,
            columns=["id", "owner_id", "session_id", "token_hash"],
        )
    finally:
        await conn.close()
    return tokens

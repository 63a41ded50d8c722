"""Test harness: a real PostgreSQL per xdist worker, migrated once; tables emptied after each
test that touched them.

Where the database comes from: TEST_DATABASE_URL, else the service machine's 127.0.0.1:5432
when it answers, else an embedded PostgreSQL (pgserver) under .mindspace/test-pg.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest
import pytest_asyncio
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mindspace.app import build_event_bus, build_jobs, build_worker_context, create_app
from mindspace.identity import passwords
from mindspace.identity.models import AuthSession, UserAccount
from mindspace.identity.tokens import TokenService
from mindspace.platform.clock import utc_now
from mindspace.platform.config import Environment, Settings
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import new_id
from mindspace.platform.migrate import upgrade
from mindspace.platform.relay import relay_once
from mindspace.platform.security import Principal, Role

ROOT = Path(__file__).resolve().parents[1]
TEST_PASSWORD = "correct horse battery"
_embedded_handle: Any = None


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, for a local peer a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held from here on: no race for it
    return sock


def _peer_server(app: Any) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(app, lifespan="off", ws="none", http="h11", log_level="warning")
    )


@asynccontextmanager
async def serve_locally(app: Any) -> AsyncIterator[str]:
    """A real local HTTP peer (an ASGI app) on a free loopback port, served by this event
    loop; yields its base URL."""
    sock = _loopback_socket()
    host, port = sock.getsockname()
    server = _peer_server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task  # it failed to start: say why
            await asyncio.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """`serve_locally` on a thread of its own, for peers that outlive one event loop
    (session fixtures) or are called from synchronous code; yields its base URL."""
    sock = _loopback_socket()
    host, port = sock.getsockname()
    server = _peer_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the local peer failed to start"
            assert time.monotonic() < deadline, "the local peer did not start"
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _server_url(worker_id: str) -> str:
    global _embedded_handle
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return explicit
    if _answers("127.0.0.1", 5432):
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    import mindspace.platform.embedded as embedded

    # One embedded server per xdist worker: they must not share a data folder.
    url: str
    url, _embedded_handle = embedded.start(ROOT / ".mindspace" / f"test-pg-{worker_id}")
    return url


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    parsed = make_url(url.replace("redis://", "postgresql://", 1))
    return url if _answers(parsed.host or "127.0.0.1", parsed.port or 6379) else None


@pytest.fixture(scope="session")
def worker_database_url(worker_id: str) -> Iterator[str]:
    """A fresh database for this xdist worker, migrated to head through Alembic."""
    server = make_url(_server_url(worker_id))
    # The pid keeps concurrent runs on one server (two checkouts, a helper) out of each other's way.
    name = f"mindspace_test_{worker_id}_{os.getpid()}"

    async def admin_sql(*statements: str) -> None:
        admin = create_async_engine(
            server.set(drivername="postgresql+asyncpg", database="postgres"),
            isolation_level="AUTOCOMMIT",
        )
        async with admin.connect() as conn:
            for statement in statements:
                await conn.exec_driver_sql(statement)
        await admin.dispose()

    asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade(url, app_role="mindspace_app")
    yield url
    asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def settings(worker_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment=Environment.test,
        database_url=worker_database_url,
        redis_url=None,
        data_dir=tmp_path_factory.mktemp("mindspace-data"),
        log_json=True,
        seed_demo_data=False,
        max_body_bytes=64 * 1024,
        # The embedding model loads in the background at start-up: a test that wants the
        # safety gate's learned layer turns it on itself (tests/safety/test_gate.py), so no other
        # test's outcome depends on whether the load has finished.
        embeddings="off",
    )


@pytest_asyncio.fixture(scope="session")
async def owner_engine(worker_database_url: str) -> AsyncIterator[AsyncEngine]:
    """The owner connection: for setup and inspection only, never for the code under test."""
    engine = create_async_engine(make_url(worker_database_url).set(drivername="postgresql+asyncpg"))
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest_asyncio.fixture(scope="session")
async def job_app(app: FastAPI) -> AsyncIterator[procrastinate.App]:
    """The product's jobs app, built once per process: an app that adopts a blueprint renames
    its tasks, so a second one would see them under doubled names."""
    application = build_jobs(app.state.db)
    async with application.open_async():
        yield application


async def run_jobs(job_app: procrastinate.App, db: Database, settings: Settings) -> None:
    """Runs every queued job once, with the context a real worker gives them."""
    await job_app.run_worker_async(
        wait=False,
        install_signal_handlers=False,
        additional_context=build_worker_context(db, settings),
    )


async def run_background(job_app: procrastinate.App, db: Database, settings: Settings) -> None:
    """One pass of what `mindspace worker` does: relay the events, then run the queued jobs."""
    await relay_once(db, build_event_bus(job_app))
    await run_jobs(job_app, db, settings)


@pytest_asyncio.fixture(scope="session")
async def _session_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _empty_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        # replica mode skips the audit trail's append-only trigger: tests may start afresh.
        await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        tables = (
            await conn.exec_driver_sql(
                "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).scalar_one()
        if tables:
            await conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")


@pytest_asyncio.fixture
async def db(app: FastAPI, owner_engine: AsyncEngine) -> AsyncIterator[Database]:
    database: Database = app.state.db
    yield database
    await _empty_tables(owner_engine)
    await app.state.rate_limiter.reset()


@pytest_asyncio.fixture
async def client(
    _session_client: httpx.AsyncClient, db: Database
) -> AsyncIterator[httpx.AsyncClient]:
    yield _session_client


@dataclass
class Person:
    id: uuid.UUID
    email: str
    password: str
    principal: Principal
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


_HASH_CACHE: dict[str, str] = {}


async def create_user(
    db: Database,
    tokens: TokenService,
    *,
    email: str | None = None,
    roles: tuple[Role, ...] = (Role.member,),
    **overrides: Any,
) -> Person:
    """An account with a signed-in session, made directly: hashing once per run keeps the
    suite fast; the sign-in route itself has its own tests."""
    if TEST_PASSWORD not in _HASH_CACHE:
        _HASH_CACHE[TEST_PASSWORD] = await passwords.hash_password(TEST_PASSWORD)
    user_id = new_id()
    session_id = new_id()
    email = email or f"user-{user_id.hex[:12]}@example.org"
    async with db.session(None, scope=DbScope.auth) as session:
        session.add(
            UserAccount(
                id=user_id,
                email=email,
                password_hash=_HASH_CACHE[TEST_PASSWORD],
                display_name=overrides.pop("display_name", "Test person"),
                roles=[r.value for r in roles],
                **overrides,
            )
        )
        await session.flush()
        session.add(
            AuthSession(id=session_id, owner_id=user_id, expires_at=utc_now() + timedelta(days=1))
        )
    principal = Principal(user_id=user_id, roles=frozenset(roles), session_id=session_id)
    token, _ = tokens.issue(principal)
    return Person(user_id, email, TEST_PASSWORD, principal, token)


@pytest_asyncio.fixture
async def user(db: Database, app: FastAPI) -> Person:
    return await create_user(db, app.state.tokens)


@pytest_asyncio.fixture
async def other_user(db: Database, app: FastAPI) -> Person:
    return await create_user(db, app.state.tokens)


@pytest_asyncio.fixture
async def admin(db: Database, app: FastAPI) -> Person:
    return await create_user(db, app.state.tokens, roles=(Role.member, Role.admin))


async def database_dump(owner_engine: AsyncEngine) -> str:
    """Every row of every table as text, as the database owner sees them: a stolen dump."""
    async with owner_engine.connect() as conn:
        tables = (
            await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            )
        ).scalars()
        parts: list[str] = []
        for table in list(tables):
            rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))  # noqa: S608
            parts.extend(r[0] for r in rows)
    return "\n".join(parts)


def visible_in(dump: str, secret: str) -> bool:
    """Whether `secret` stands in the dump as text, in any case, or as hex (bytea columns)."""
    lowered = dump.lower()
    return secret.lower() in lowered or secret.encode().hex() in lowered


def assert_problem(
    response: httpx.Response, status: int, type_suffix: str | None = None
) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with this status (and type, when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("https://")
    assert body["instance"] == f"urn:request:{response.headers['x-request-id']}"
    if type_suffix:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body

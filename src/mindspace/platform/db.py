"""The database: base models, the engine, and sessions scoped to the acting principal.

Isolation is enforced twice. Services filter every owned query by the principal; behind them,
PostgreSQL row-level security (see `owner_policy_sql`) hides every row whose `owner_id` is not
the principal set for the transaction. The API connects as a role that owns no table and has no
BYPASSRLS, so a query that forgets its filter still sees only the actor's rows.

Wider visibility is never implicit: `DbScope.admin` (audited, staff only) and `DbScope.system`
(jobs, sign-in look-ups) are opened by name, through `Database.session(..., scope=...)`.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol, cast

from sqlalchemy import ClauseElement, DateTime, ForeignKey, MetaData, Uuid, event, func, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from mindspace.platform.config import Settings
from mindspace.platform.ids import new_id
from mindspace.platform.security import Principal

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
USER_TABLE = "user_account"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: DateTime(timezone=True),
        uuid.UUID: Uuid(as_uuid=True),
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class OwnedMixin:
    """A row that belongs to one person. Its table must carry `owner_policy_sql` in a migration;
    `tests/platform/test_rls.py` fails for any table with `owner_id` and no policy."""

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"), index=True
    )


class DbScope(enum.StrEnum):
    user = "user"  # only the principal's own rows (anonymous: none)
    admin = "admin"  # staff acting on others' rows; every opening is audited
    system = "system"  # jobs and relays; no person is acting
    # Sign-in before anyone is authenticated: identity's tables only (their policies name it).
    auth = "auth"


def owner_policy_sql(
    table: str,
    role: str,
    *,
    column: str = "owner_id",
    scopes: tuple[DbScope, ...] = (DbScope.admin, DbScope.system),
    privileges: str = "SELECT, INSERT, UPDATE, DELETE",
) -> list[str]:
    """The statements that put a table under owner row-level security. Used by migrations;
    changing it changes only migrations written after the change."""
    wider = ", ".join(f"'{s.value}'" for s in scopes)
    rule = f"{column} = mindspace_user_id() OR mindspace_scope() IN ({wider})"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_owner ON {table} USING ({rule}) WITH CHECK ({rule})",
        f"GRANT {privileges} ON {table} TO {role}",
    ]


_SET_PRINCIPAL = text(
    "SELECT set_config('mindspace.user_id', :uid, true), "
    "set_config('mindspace.scope', :scope, true)"
)


class ReadConnection(Protocol):
    """What a hot read gets (a `PrincipalReader`): asyncpg's query methods, as far as we use
    them, already scoped to the acting principal."""

    async def fetchrow(self, query: str, *args: Any) -> Mapping[str, Any] | None: ...

    async def fetch(self, query: str, *args: Any) -> Sequence[Mapping[str, Any]]: ...


_DRIVER_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy


def driver_sql(statement: ClauseElement) -> str:
    """A Core statement compiled once, at import, to the driver's SQL ($1, $2 … in the order of
    its bind parameters): hot reads keep Core's definitions without paying for its execution."""
    return str(statement.compile(dialect=_DRIVER_DIALECT))


@dataclass(frozen=True, slots=True)
class DriverQuery:
    """A Core statement compiled once to driver SQL, with the names of its bind parameters in
    their positional order: for hot reads whose statement varies with a few options (one
    compiled query per combination), where `driver_sql`'s fixed order is not enough."""

    sql: str
    names: tuple[str, ...]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] for name in self.names]


def driver_query(statement: ClauseElement) -> DriverQuery:
    compiled = cast(SQLCompiler, statement.compile(dialect=_DRIVER_DIALECT))
    return DriverQuery(str(compiled), tuple(compiled.positiontup or ()))


class ScopedSession(Session):
    """A session whose every transaction starts by telling PostgreSQL who is acting."""


@event.listens_for(ScopedSession, "after_begin")
def _set_transaction_principal(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    principal: Principal | None = session.info.get("principal")
    scope: DbScope = session.info.get("scope", DbScope.user)
    connection.execute(
        _SET_PRINCIPAL,
        {"uid": str(principal.user_id) if principal else "", "scope": scope.value},
    )


@lru_cache(maxsize=512)
def acting_as_principal(query: str, arity: int) -> str:
    """`query` as one statement that first names the acting principal (its last parameter,
    after the query's own `arity`) for row-level security, then runs.

    Why one statement: the transaction-local settings the policies read otherwise need BEGIN
    and the settings, the query, then COMMIT, three round trips for a one-row read (measured:
    a third of an authenticated GET's CPU, and three times the database's work). Why it is
    safe: the settings are made in the outer row of a LATERAL join whose inner side refers to
    it, so PostgreSQL must produce that row before it runs the query (OFFSET 0 keeps either
    side from being merged into the other, and set_config is parallel-unsafe, so no worker
    runs the query elsewhere). Local to the statement's own implicit transaction, they are
    gone when it ends. Were the order ever wrong, the policies would see no principal: nothing
    would be read, never someone else's rows. Reads only: a write in a subquery is a syntax
    error, and a function that would write finds the transaction read-only."""
    principal = f"${arity + 1}"
    # `query` is our own SQL text (compiled from Core at import); every value is a parameter.
    return (
        "SELECT read.* FROM (SELECT "  # noqa: S608
        f"set_config('mindspace.user_id', {principal}::text, true) AS user_id, "
        f"set_config('mindspace.scope', '{DbScope.user.value}', true) AS scope, "
        "set_config('transaction_read_only', 'on', true) AS read_only "
        "OFFSET 0) AS acting CROSS JOIN LATERAL (SELECT * FROM ("
        f"{query}"
        ") AS query WHERE acting.user_id IS NOT NULL AND acting.scope IS NOT NULL "
        "AND acting.read_only IS NOT NULL OFFSET 0) AS read"
    )


class PrincipalReader:
    """Reads as one principal, each query a single round trip on a pooled driver connection
    held only for that query (see `acting_as_principal`). Each query sees its own snapshot."""

    __slots__ = ("_db", "_user_id")

    def __init__(self, db: Database, principal: Principal) -> None:
        self._db = db
        # Rendered as text for set_config: from a UUID only, never from a caller's string.
        self._user_id = str(uuid.UUID(str(principal.user_id)))

    async def fetchrow(self, query: str, *args: Any) -> Mapping[str, Any] | None:
        async with self._db.driver() as conn:
            _outside_transaction(conn)
            row: Mapping[str, Any] | None = await conn.fetchrow(
                acting_as_principal(query, len(args)), *args, self._user_id
            )
            return row

    async def fetch(self, query: str, *args: Any) -> Sequence[Mapping[str, Any]]:
        async with self._db.driver() as conn:
            _outside_transaction(conn)
            rows: Sequence[Mapping[str, Any]] = await conn.fetch(
                acting_as_principal(query, len(args)), *args, self._user_id
            )
            return rows


def _outside_transaction(conn: Any) -> None:
    # Inside an open transaction the settings would outlast the statement.
    if conn.is_in_transaction():
        raise RuntimeError("a pooled connection was handed out inside a transaction")


def app_url(owner: str, *, explicit: str | None, role: str, password: str | None) -> URL:
    """The API's connection URL: the explicit one, else the owner's server with the app role."""
    if explicit:
        return _asyncpg(make_url(explicit))
    return _asyncpg(make_url(owner).set(username=role, password=password))


def _asyncpg(url: URL) -> URL:
    return url.set(drivername="postgresql+asyncpg")


def owner_url(url: str) -> URL:
    return _asyncpg(make_url(url))


class Database:
    """Owns the engine. One per process, created at start-up and disposed at shutdown."""

    def __init__(self, url: URL, *, pool_size: int = 10, statement_timeout_ms: int = 15_000):
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            # A fixed pool: requests beyond it wait briefly for a connection. Overflow
            # connections are opened and closed per request under load, and that churn
            # (measured: a 5x slower readiness probe at 64 connections) costs far more.
            max_overflow=0,
            pool_timeout=5,
            pool_recycle=1800,
            connect_args={
                # A database that is down must answer 503 quickly, not hang the request.
                "timeout": 5,
                "command_timeout": statement_timeout_ms / 1000 + 5,
                "server_settings": {
                    "application_name": "mindspace",
                    "statement_timeout": str(statement_timeout_ms),
                    "idle_in_transaction_session_timeout": str(statement_timeout_ms * 2),
                    "timezone": "UTC",
                },
            },
        )
        self._sessions = async_sessionmaker(
            self.engine, sync_session_class=ScopedSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(
        self,
        principal: Principal | None,
        *,
        scope: DbScope = DbScope.user,
    ) -> AsyncIterator[AsyncSession]:
        """One transaction, committed when the block ends and rolled back if it raises."""
        if scope is DbScope.admin and (principal is None or not principal.is_staff):
            raise PermissionError("the admin scope needs a staff principal")
        async with self._sessions() as session:
            session.info["principal"] = principal
            session.info["scope"] = scope
            async with session.begin():
                try:
                    yield session
                except Exception as exc:
                    if not getattr(exc, "keeps_changes", False):
                        raise
                    await session.commit()
                    raise

    def reader(self, principal: Principal) -> PrincipalReader:
        """Hot reads of the principal's own rows (an owned GET, a list), on the driver path."""
        return PrincipalReader(self, principal)

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """A pooled connection as the driver's own (asyncpg) object, for plain driver queries.
        Checked out without SQLAlchemy's Connection around it: measured at half the CPU of
        `engine.connect()` plus `get_raw_connection()`, on paths that run on every request."""
        pooled = await self.engine.raw_connection()
        try:
            yield pooled.driver_connection
        finally:
            await greenlet_spawn(pooled.close)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        password = settings.database_app_password
        url = app_url(
            settings.database_url or "",
            explicit=settings.database_app_url,
            role=settings.database_app_role,
            password=password.get_secret_value() if password else None,
        )
        return cls(
            url,
            pool_size=settings.database_pool_size,
            statement_timeout_ms=settings.database_statement_timeout_ms,
        )

    async def dispose(self) -> None:
        await self.engine.dispose()

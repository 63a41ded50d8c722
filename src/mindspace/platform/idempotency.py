"""`Idempotency-Key` on unsafe requests: a retry gets the first response, not a second effect.

The semantics are Stripe's and draft-ietf-httpapi-idempotency-key-header's:
- A key belongs to the authenticated person and the route (method and path template); another
  person's identical key is another key.
- The first response (status, headers, body) is kept and sent again, with
  `Idempotent-Replayed: true`, for the same key and the same request; nothing runs again.
- The same key with a different request (body, path or query) is a 422; the same key while the
  first request is still running is a 409 with Retry-After.
- Keys expire after `idempotency_ttl_hours`; expired ones are ignored at once and purged by the
  operations domain's periodic job.

A response is kept exactly when the request's changes commit, in the same transaction (the
request's own session), so a crash leaves neither a change without its key nor a key without
its change. That means every answer below 500, and a refusal whose error `keeps_changes` (the
refusal is itself a fact that committed). A refusal that rolls back (bad input, a rate limit, a
quota, a conflict) is not kept: it changed nothing, so running it again is safe and is the
honest answer once its cause has passed; keeping it would pin a passing 429 on the key for a
day. A 5xx is never kept: the request did not happen, and the retry should make it happen.

Kept responses can hold a person's private words (a companion's reply), so each is sealed
with the person's data key, under row-level security, and goes with the account. The request
fingerprint is sealed with it: a plain hash of a short message would let a stolen dump confirm
a guess of its words.

A route opts in with `dependencies=[Idempotent]`; `include_flat` then serves it through
`IdempotentRoute`, which sees the finished response while the transaction is still open. A
streamed response is read to its end inside the transaction (it must already exist in full to
be committed with the changes) and sent in the same chunks; a replay is the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from sqlalchemy import (
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.responses import Response, StreamingResponse

from mindspace.platform.config import Settings
from mindspace.platform.crypto import Vault
from mindspace.platform.db import USER_TABLE, Base, Database, DbScope, IdMixin
from mindspace.platform.errors import AppError, Conflict, InvalidInput, app_error_response
from mindspace.platform.ids import new_id
from mindspace.platform.web import CurrentPrincipal, UserSession

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = r"[A-Za-z0-9._:~+/=-]{16,255}"
# Bare, or quoted as the draft's structured-field string; 16 characters at least, so that a
# counter restarted by a reinstalled app cannot land on yesterday's keys.
KEY_PATTERN = rf'^(?:{_KEY}|"{_KEY}")$'
RESPONSE = "idempotency.response"
# Recomputed for each answer, or never to be sent twice (a cookie is a credential).
_NOT_KEPT = frozenset(
    {
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"date",
        b"server",
        b"x-request-id",
        b"set-cookie",
    }
)
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")


class IdempotencyRecord(IdMixin, Base):
    """A kept response. Owned (row-level security) but not `OwnedMixin`: the unique key's
    leading `owner_id` already indexes the owner."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        UniqueConstraint("owner_id", "route", "key"),
        Index("ix_idempotency_record_expires_at", "expires_at"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{USER_TABLE}.id", ondelete="CASCADE"))
    route: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    response_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]


class IdempotencyKeyInUse(Conflict):
    type = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is still in progress"

    def __init__(self) -> None:
        super().__init__(
            "Wait for the first request's answer, or retry in a moment to receive it.",
            headers={"Retry-After": "1"},
        )


class IdempotencyKeyReused(InvalidInput):
    type = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


# For the `problem_responses(...)` of every route that takes `Idempotent`.
IDEMPOTENCY_ERRORS = (IdempotencyKeyInUse, IdempotencyKeyReused)


@dataclass(frozen=True, slots=True)
class KeptResponse:
    fingerprint: bytes
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def pack(self) -> bytes:
        meta = orjson.dumps(
            {
                "fingerprint": self.fingerprint.hex(),
                "status": self.status,
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            }
        )
        return len(meta).to_bytes(4, "big") + meta + self.body

    @classmethod
    def unpack(cls, packed: bytes) -> KeptResponse:
        size = int.from_bytes(packed[:4], "big")
        meta = orjson.loads(packed[4 : 4 + size])
        return cls(
            fingerprint=bytes.fromhex(meta["fingerprint"]),
            status=meta["status"],
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in meta["headers"]],
            body=packed[4 + size :],
        )

    def replay(self) -> Response:
        response = Response(self.body, status_code=self.status)
        response.raw_headers.extend(self.headers)
        response.raw_headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
        return response


class _Replay(Exception):
    """Control flow, not an error: IdempotentRoute answers it with the kept response."""

    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


@dataclass(slots=True)
class Claim:
    """A key taken for this request: its lock is held until the transaction ends, and the
    response is kept in that transaction by `IdempotentRoute`."""

    session: AsyncSession
    vault: Vault
    owner_id: uuid.UUID
    route: str
    key: str
    fingerprint: bytes
    ttl: timedelta
    seen: bool = False  # IdempotentRoute has seen the answer (kept or not)

    async def keep(self, response: Response) -> None:
        self.seen = True
        if response.status_code >= 500:
            return
        body = await _read_whole(response)
        headers = [(k, v) for k, v in response.raw_headers if k.lower() not in _NOT_KEPT]
        kept = KeptResponse(self.fingerprint, response.status_code, headers, body)
        data_key = await self.vault.data_key(self.session, self.owner_id)
        record_id = new_id()
        await self.session.execute(
            insert(IdempotencyRecord).values(
                id=record_id,
                owner_id=self.owner_id,
                route=self.route,
                key=self.key,
                response_sealed=data_key.seal(kept.pack(), purpose=RESPONSE, row_id=record_id),
                expires_at=func.now() + self.ttl,
            )
        )


async def _read_whole(response: Response) -> bytes:
    if not isinstance(response, StreamingResponse):
        if not hasattr(response, "body"):
            raise TypeError(f"an idempotent route cannot keep a {type(response).__name__}")
        return bytes(response.body)
    charset = response.charset
    chunks = [
        chunk.encode(charset) if isinstance(chunk, str) else bytes(chunk)
        async for chunk in response.body_iterator
    ]

    async def again() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    response.body_iterator = again()
    return b"".join(chunks)


def _route_of(request: Request) -> str:
    template = getattr(request.scope.get("route"), "path_format", None)
    if not isinstance(template, str):
        raise RuntimeError("Idempotency-Key needs a matched route")
    return f"{request.method} {template}"


async def _fingerprint(request: Request) -> bytes:
    """What makes two requests the same: method, path, query and body (JSON compared by
    value, so a client may re-serialise it)."""
    body = await request.body()
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256()
    for part in (
        request.method.encode(),
        request.scope["path"].encode(),
        request.scope.get("query_string", b""),
        canonical,
    ):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.digest()


def _lock_key(owner_id: uuid.UUID, route: str, key: str) -> int:
    digest = hashlib.sha256(
        b"idempotency|" + owner_id.bytes + b"|" + route.encode() + b"|" + key.encode()
    ).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _claim(request: Request, session: AsyncSession, owner_id: uuid.UUID, key: str) -> Claim:
    route = _route_of(request)
    # Held until this transaction ends, so a second request with the key waits for nothing:
    # it is told at once that the first is still running.
    locked = (await session.execute(_TRY_LOCK, {"key": _lock_key(owner_id, route, key)})).scalar()
    if not locked:
        raise IdempotencyKeyInUse()
    vault: Vault = request.app.state.vault
    fingerprint = await _fingerprint(request)
    # After the lock, in a statement of its own: a first request that committed meanwhile is
    # visible to this one (read committed takes a snapshot per statement).
    row = (
        await session.execute(
            select(
                IdempotencyRecord.id,
                IdempotencyRecord.response_sealed,
                (IdempotencyRecord.expires_at <= func.now()).label("expired"),
            ).where(
                IdempotencyRecord.owner_id == owner_id,
                IdempotencyRecord.route == route,
                IdempotencyRecord.key == key,
            )
        )
    ).first()
    if row is not None and row.expired:
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == row.id))
    elif row is not None:
        data_key = await vault.find_data_key(session, owner_id)
        if data_key is None:  # pragma: no cover - the record goes with the key (erasure)
            raise RuntimeError("a kept response without its data key")
        kept = KeptResponse.unpack(
            data_key.open(row.response_sealed, purpose=RESPONSE, row_id=row.id)
        )
        if not hmac.compare_digest(kept.fingerprint, fingerprint):
            raise IdempotencyKeyReused(
                "Use a new Idempotency-Key for a new request; a key names one request and "
                "its first answer."
            )
        raise _Replay(kept.replay())
    settings: Settings = request.app.state.settings
    return Claim(
        session=session,
        vault=vault,
        owner_id=owner_id,
        route=route,
        key=key,
        fingerprint=fingerprint,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
    )


_KEY_DESCRIPTION = (
    "Makes retrying this request safe. A value you generate once per operation (a UUID or a "
    "ULID: 16 to 255 of `A-Z a-z 0-9 . _ : ~ + / = -`, optionally in double quotes). For a day "
    "(24 hours unless configured otherwise), the same request with the same key returns the "
    "first response exactly as it was sent (its status and its media type: a stream of events "
    f"is replayed as the same stream), with `{REPLAYED_HEADER}: true`, and does nothing again. "
    "The same key with a different request is a 422 (`idempotency-key-reused`); while the "
    "first request is still running, a 409 (`idempotency-key-in-use`) with Retry-After. "
    "Refusals that changed nothing and server errors are not kept: retrying them runs the "
    "request again."
)


async def _idempotency_key(
    request: Request,
    principal: CurrentPrincipal,
    session: UserSession,
    key: Annotated[
        str | None,
        Header(alias=KEY_HEADER, pattern=KEY_PATTERN, description=_KEY_DESCRIPTION),
    ] = None,
) -> AsyncIterator[Claim | None]:
    if key is None:
        yield None
        return
    claim = await _claim(request, session, principal.user_id, key.strip('"'))
    request.state.idempotency = claim
    yield claim
    # Only reached when the route answered; IdempotentRoute must have seen that answer.
    if not claim.seen:
        raise RuntimeError("an idempotent route must be served by IdempotentRoute (include_flat)")


# Same scope as the session it writes in: it is torn down first, before that session commits.
Idempotent = Depends(_idempotency_key, scope="function")


def declares_idempotency(dependant: Dependant, extra: Iterable[DependsParam] = ()) -> bool:
    """Whether a route takes `Idempotent`, directly or through another dependency."""
    if any(d.dependency is _idempotency_key for d in extra):
        return True
    return any(
        d.call is _idempotency_key or declares_idempotency(d) for d in dependant.dependencies
    )


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotentRoute(APIRoute):
    """A route that keeps its response for its Idempotency-Key, in its own transaction. It must
    document the problems the key can answer, like any other error it can return."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        documented = kwargs.get("responses") or {}
        missing = [
            e.type
            for e in IDEMPOTENCY_ERRORS
            if e.title not in documented.get(e.status, {}).get("description", "")
        ]
        if missing:
            raise TypeError(
                f"{path} takes Idempotent: add *IDEMPOTENCY_ERRORS to its problem_responses "
                f"(missing {', '.join(missing)})"
            )
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def idempotent(request: Request) -> Response:
            try:
                response = await handler(request)
            except _Replay as replay:
                return replay.response
            except AppError as exc:
                claim: Claim | None = getattr(request.state, "idempotency", None)
                if claim is not None and exc.keeps_changes:
                    await claim.keep(app_error_response(exc))
                raise
            claim = getattr(request.state, "idempotency", None)
            if claim is not None:
                await claim.keep(response)
            return response

        return idempotent


async def purge_expired(db: Database, *, batch: int = 5_000) -> int:
    """Deletes expired records, a batch per transaction; returns how many. Lookups already
    ignore them, so this only gives the space back."""
    total = 0
    while True:
        async with db.session(None, scope=DbScope.system) as session:
            expired = (
                select(IdempotencyRecord.id)
                .where(IdempotencyRecord.expires_at <= func.now())
                .limit(batch)
            )
            result = await session.execute(
                delete(IdempotencyRecord)
                .where(IdempotencyRecord.id.in_(expired.scalar_subquery()))
                .execution_options(synchronize_session=False)
            )
        deleted = int(result.rowcount)  # type: ignore[attr-defined]
        total += deleted
        if deleted < batch:
            return total

"""FastAPI dependencies every domain's routes use: the principal, the scoped session, roles.

Every dependency here is `async def`, even the trivial ones: FastAPI runs a plain `def`
dependency in a worker thread, which costs more than the work itself (measured: four thread
hops per request were a large share of an authenticated GET).

The trees are kept shallow: FastAPI walks a dependency's whole subtree on every request, again
for each parameter that names it, at about 10 µs a node (an authenticated GET had eight nodes).
So the principal depends on the bearer scheme directly, and sessions read the database from the
app state rather than through a dependency of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.platform.audit import Origin
from mindspace.platform.crypto import Vault
from mindspace.platform.db import Database, DbScope, ReadConnection
from mindspace.platform.errors import Forbidden, Unauthenticated
from mindspace.platform.ratelimit import client_ip
from mindspace.platform.security import Authenticator, Principal, Role
from mindspace.platform.storage import Storage

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login")


def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_database(request: Request) -> Database:
    return _database(request)


async def _authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    if credentials is None:
        return None
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(credentials.credentials)
    request.state.principal = principal
    return principal


async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    return await _authenticate(request, credentials)


async def require_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = await _authenticate(request, credentials)
    if principal is None:
        raise Unauthenticated("Sign in to continue.")
    return principal


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    allowed = frozenset(roles)

    async def dependency(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
        if not principal.roles & allowed:
            raise Forbidden("Your account does not have access to this.")
        return principal

    return dependency


async def _user_session(
    request: Request, principal: Annotated[Principal, Depends(require_principal)]
) -> AsyncIterator[AsyncSession]:
    async with _database(request).session(principal) as session:
        yield session


async def _user_reader(
    request: Request, principal: Annotated[Principal, Depends(require_principal)]
) -> ReadConnection:
    # Not a yield dependency: each read takes and returns its own connection.
    return _database(request).reader(principal)


async def _anonymous_session(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> AsyncIterator[AsyncSession]:
    async with _database(request).session(principal) as session:
        yield session


async def _auth_scope_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _database(request).session(None, scope=DbScope.auth) as session:
        yield session


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


async def request_origin(request: Request) -> Origin:
    return Origin(ip=client_ip(request), user_agent=request.headers.get("user-agent"))


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
StaffPrincipal = Annotated[Principal, Depends(require_role(Role.admin, Role.super))]
# scope="function": the transaction commits before the response is sent, so a client never
# sees success for a write that then fails to commit.
UserSession = Annotated[AsyncSession, Depends(_user_session, scope="function")]
# Hot reads of the principal's own rows (see Database.reader).
UserReader = Annotated[ReadConnection, Depends(_user_reader)]
AnySession = Annotated[AsyncSession, Depends(_anonymous_session, scope="function")]
# For sign-in routes only: before anyone is authenticated, see identity's tables and no others.
SignInSession = Annotated[AsyncSession, Depends(_auth_scope_session, scope="function")]
FileStorage = Annotated[Storage, Depends(get_storage)]
KeyVault = Annotated[Vault, Depends(get_vault)]
DatabaseDep = Annotated[Database, Depends(get_database)]
RequestOrigin = Annotated[Origin, Depends(request_origin)]

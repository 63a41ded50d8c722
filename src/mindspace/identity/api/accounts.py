from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response, status

from mindspace.identity import service
from mindspace.identity.auth import Limiter, PublicBaseUrl, SecretBoxDep, Tokens
from mindspace.identity.errors import (
    AccountLocked,
    AccountUnavailable,
    InvalidCredentials,
    InvalidToken,
    SessionNotFound,
    TwoFactorRequired,
    WeakPassword,
)
from mindspace.identity.schemas import (
    AuthSessionOut,
    LoginRequest,
    Me,
    MeUpdate,
    RefreshRequest,
    RegisterRequest,
    SessionId,
    TokenPair,
)
from mindspace.platform.errors import RateLimited, Unauthenticated, problem_responses
from mindspace.platform.pagination import Page, Paging
from mindspace.platform.ratelimit import rate_limit
from mindspace.platform.schemas import Message
from mindspace.platform.web import (
    CurrentPrincipal,
    RequestOrigin,
    SignInSession,
    UserReader,
    UserSession,
)

router = APIRouter()
auth = APIRouter(prefix="/auth", tags=["auth"])
users = APIRouter(prefix="/users", tags=["users"])

REGISTERED = "If this email can be used, your account is ready: sign in to continue."


@auth.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(WeakPassword, RateLimited),
    dependencies=[Depends(rate_limit("10/hour", name="register"))],
)
async def register(
    body: RegisterRequest, session: SignInSession, origin: RequestOrigin, base_url: PublicBaseUrl
) -> Message:
    """Creates an account. The answer is the same whether or not the email already has one."""
    await service.register(
        session,
        email=str(body.email),
        password=body.password,
        display_name=body.display_name,
        origin=origin,
        verification_base_url=base_url,
    )
    return Message(detail=REGISTERED)


@auth.post(
    "/login",
    responses=problem_responses(
        InvalidCredentials, AccountUnavailable, TwoFactorRequired, AccountLocked, RateLimited
    ),
    dependencies=[Depends(rate_limit("20/minute", name="login"))],
)
async def login(
    body: LoginRequest,
    session: SignInSession,
    tokens: Tokens,
    origin: RequestOrigin,
    box: SecretBoxDep,
    limiter: Limiter,
) -> TokenPair:
    """Signs in. With two-factor on, a right password without a valid code answers 401
    two-factor-required: send the code in `totp_code` (or a `recovery_code`)."""
    return await service.login(
        session,
        tokens,
        email=str(body.email),
        password=body.password,
        origin=origin,
        box=box,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
        limiter=limiter,
    )


@auth.post(
    "/refresh",
    responses=problem_responses(InvalidToken, RateLimited),
    dependencies=[Depends(rate_limit("60/minute", name="refresh"))],
)
async def refresh(
    body: RefreshRequest, session: SignInSession, tokens: Tokens, origin: RequestOrigin
) -> TokenPair:
    return await service.refresh(session, tokens, refresh_token=body.refresh_token, origin=origin)


@auth.post("/logout", status_code=204, responses=problem_responses(Unauthenticated))
async def logout(session: UserSession, principal: CurrentPrincipal, tokens: Tokens) -> Response:
    await service.logout(session, principal, tokens)
    return Response(status_code=204)


@auth.post("/logout-everywhere", status_code=204, responses=problem_responses(Unauthenticated))
async def logout_everywhere(
    session: UserSession, principal: CurrentPrincipal, tokens: Tokens
) -> Response:
    await service.logout_everywhere(session, principal, tokens)
    return Response(status_code=204)


@auth.get("/sessions", responses=problem_responses(Unauthenticated))
async def list_sessions(
    session: UserSession, principal: CurrentPrincipal, paging: Paging
) -> Page[AuthSessionOut]:
    """The devices signed in to this account, newest first."""
    return await service.list_sessions(session, principal, paging)


@auth.delete(
    "/sessions/{session_id}",
    status_code=204,
    responses=problem_responses(Unauthenticated, SessionNotFound),
)
async def revoke_session(
    session_id: SessionId, session: UserSession, principal: CurrentPrincipal, tokens: Tokens
) -> Response:
    await service.revoke_session(session, principal, tokens, session_id=session_id)
    return Response(status_code=204)


@users.get("/me", responses=problem_responses(Unauthenticated))
async def get_me(reader: UserReader, principal: CurrentPrincipal) -> Me:
    return await service.get_me(reader, principal)


@users.patch("/me", responses=problem_responses(Unauthenticated))
async def update_me(body: MeUpdate, session: UserSession, principal: CurrentPrincipal) -> Me:
    return await service.update_me(session, principal, changes=body.model_dump(exclude_unset=True))


router.include_router(auth)
router.include_router(users)


async def jwks_route(tokens: Tokens) -> dict[str, Any]:
    return tokens.jwks()


well_known = APIRouter(tags=["auth"])
well_known.add_api_route(
    "/.well-known/jwks.json", jwks_route, methods=["GET"], summary="Public keys for access tokens"
)

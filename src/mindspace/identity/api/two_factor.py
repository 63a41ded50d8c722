"""Step-up, two-factor authentication and password change: the routes that guard an account."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from mindspace.identity import service
from mindspace.identity.auth import Limiter, SecretBoxDep, SteppedUpPrincipal, Tokens
from mindspace.identity.errors import (
    AccountLocked,
    InvalidToken,
    InvalidTwoFactorCode,
    StepUpFailed,
    StepUpRequired,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotPending,
    WeakPassword,
)
from mindspace.identity.schemas import (
    PasswordChange,
    RecoveryCodes,
    SteppedUp,
    StepUpRequest,
    TwoFactorConfirm,
    TwoFactorSetup,
    TwoFactorStatus,
)
from mindspace.platform.errors import RateLimited, Unauthenticated, problem_responses
from mindspace.platform.web import CurrentPrincipal, RequestOrigin, UserSession

router = APIRouter()
auth = APIRouter(prefix="/auth", tags=["auth"])
me = APIRouter(prefix="/users/me", tags=["users"])


async def _proof_limit(limiter: Limiter, principal: CurrentPrincipal) -> None:
    """Per person, not per IP: a stolen token must not become a password-guessing oracle."""
    await limiter.hit("10/minute", "identity-proof", str(principal.user_id))


ProofLimit = [Depends(_proof_limit)]


@auth.post(
    "/step-up",
    responses=problem_responses(
        Unauthenticated, InvalidToken, StepUpFailed, AccountLocked, RateLimited
    ),
    dependencies=ProofLimit,
)
async def step_up(
    body: StepUpRequest,
    session: UserSession,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
    origin: RequestOrigin,
) -> SteppedUp:
    """Proves it is still you (password, authenticator code or recovery code), allowing
    sensitive changes from this session for the next 5 minutes."""
    return await service.step_up(
        session,
        principal,
        box,
        password=body.password,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
        origin=origin,
    )


@me.post(
    "/password",
    status_code=204,
    responses=problem_responses(Unauthenticated, StepUpRequired, WeakPassword),
)
async def change_password(
    body: PasswordChange,
    session: UserSession,
    principal: SteppedUpPrincipal,
    tokens: Tokens,
    origin: RequestOrigin,
) -> Response:
    """Sets a new password and signs out every other device (this one stays signed in)."""
    await service.change_password(
        session, principal, tokens, new_password=body.new_password, origin=origin
    )
    return Response(status_code=204)


@me.get("/2fa", responses=problem_responses(Unauthenticated))
async def two_factor_status(session: UserSession, principal: CurrentPrincipal) -> TwoFactorStatus:
    return await service.get_two_factor_status(session, principal)


@me.post(
    "/2fa/setup",
    responses=problem_responses(Unauthenticated, StepUpRequired, TwoFactorAlreadyEnabled),
)
async def begin_two_factor_setup(
    session: UserSession, principal: SteppedUpPrincipal, box: SecretBoxDep
) -> TwoFactorSetup:
    """A new authenticator secret, shown this once. Two-factor is on only after /2fa/confirm."""
    return await service.begin_setup(session, principal, box)


@me.post(
    "/2fa/confirm",
    responses=problem_responses(
        Unauthenticated,
        InvalidTwoFactorCode,
        TwoFactorNotPending,
        TwoFactorAlreadyEnabled,
        RateLimited,
    ),
    dependencies=ProofLimit,
)
async def confirm_two_factor(
    body: TwoFactorConfirm,
    session: UserSession,
    principal: CurrentPrincipal,
    box: SecretBoxDep,
    origin: RequestOrigin,
) -> RecoveryCodes:
    """Turns two-factor on with a first code from the app; answers the recovery codes, once."""
    return await service.confirm_setup(session, principal, box, code=body.code, origin=origin)


@me.delete(
    "/2fa",
    status_code=204,
    responses=problem_responses(Unauthenticated, StepUpRequired, TwoFactorNotEnabled),
)
async def disable_two_factor(
    session: UserSession, principal: SteppedUpPrincipal, origin: RequestOrigin
) -> Response:
    await service.disable_two_factor(session, principal, origin=origin)
    return Response(status_code=204)


@me.post(
    "/2fa/recovery-codes",
    responses=problem_responses(Unauthenticated, StepUpRequired, TwoFactorNotEnabled),
)
async def regenerate_recovery_codes(
    session: UserSession, principal: SteppedUpPrincipal
) -> RecoveryCodes:
    """New recovery codes, shown this once; every earlier code stops working."""
    return await service.regenerate_recovery_codes(session, principal)


router.include_router(auth)
router.include_router(me)

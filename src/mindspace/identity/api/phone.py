"""Phone sign-in and sign-up by SMS code, and adding a phone number to an account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from mindspace.identity import service
from mindspace.identity.auth import SecretBoxDep, SteppedUpPrincipal, Tokens
from mindspace.identity.errors import (
    AccountUnavailable,
    InvalidCode,
    PhoneTaken,
    StepUpRequired,
    TwoFactorRequired,
)
from mindspace.identity.schemas import (
    CodeSent,
    PhoneChangeRequest,
    PhoneCodeCheck,
    PhoneCodeRequest,
    PhoneSignIn,
    TokenPair,
    VerifiedPhone,
)
from mindspace.platform.config import Settings
from mindspace.platform.errors import RateLimited, Unauthenticated, problem_responses
from mindspace.platform.ratelimit import rate_limit
from mindspace.platform.web import CurrentPrincipal, RequestOrigin, SignInSession, UserSession

router = APIRouter()
auth = APIRouter(prefix="/auth/phone", tags=["auth"])
users = APIRouter(prefix="/users/me/phone", tags=["users"])


async def _phone_codes(request: Request) -> service.PhoneCodes:
    settings: Settings = request.app.state.settings
    return service.PhoneCodes(
        secret=settings.secret_key.get_secret_value().encode(),
        limiter=request.app.state.rate_limiter,
    )


PhoneCodes = Annotated[service.PhoneCodes, Depends(_phone_codes)]
# Each code allows 5 tries; this bounds one address spreading guesses over many numbers.
_check_limit = Depends(rate_limit("20/minute", name="phone-code-check"))


@auth.post(
    "/start",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(RateLimited),
)
async def start_phone_sign_in(
    body: PhoneCodeRequest, session: SignInSession, codes: PhoneCodes, origin: RequestOrigin
) -> CodeSent:
    """Texts a sign-in code. The answer is the same whether or not the number has an account;
    a number without one gets an account when the code comes back."""
    return await service.send_sign_in_code(session, codes, phone=body.phone, origin=origin)


@auth.post(
    "/verify",
    responses=problem_responses(InvalidCode, AccountUnavailable, TwoFactorRequired, RateLimited),
    dependencies=[_check_limit],
)
async def verify_phone_sign_in(
    body: PhoneSignIn,
    session: SignInSession,
    tokens: Tokens,
    codes: PhoneCodes,
    box: SecretBoxDep,
    origin: RequestOrigin,
) -> TokenPair:
    """Signs in with the texted code, creating an account for a number that has none. With
    two-factor on, send totp_code or recovery_code too (else 401 two-factor-required, and the
    same text code still works with it)."""
    return await service.sign_in_with_code(
        session,
        tokens,
        codes,
        box,
        phone=body.phone,
        code=body.code,
        origin=origin,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )


@users.post(
    "/start",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(Unauthenticated, StepUpRequired, RateLimited),
)
async def start_phone_change(
    body: PhoneChangeRequest,
    session: UserSession,
    principal: SteppedUpPrincipal,
    codes: PhoneCodes,
    origin: RequestOrigin,
) -> CodeSent:
    """Texts a code to a number to add to (or replace on) this account. A phone number signs
    in, so adding one needs a recent step-up (or a fresh phone sign-in) on this session."""
    return await service.send_phone_change_code(
        session, principal, codes, phone=body.phone, origin=origin
    )


@users.post(
    "/verify",
    responses=problem_responses(Unauthenticated, InvalidCode, PhoneTaken, RateLimited),
    dependencies=[_check_limit],
)
async def verify_phone_change(
    body: PhoneCodeCheck,
    session: UserSession,
    principal: CurrentPrincipal,
    codes: PhoneCodes,
    origin: RequestOrigin,
) -> VerifiedPhone:
    return await service.confirm_phone_change(
        session, principal, codes, phone=body.phone, code=body.code, origin=origin
    )


router.include_router(auth)
router.include_router(users)

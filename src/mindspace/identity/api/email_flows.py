"""Email links: verify an address, resend the link, forget and reset a password."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from mindspace.identity import service
from mindspace.identity.auth import PublicBaseUrl, SteppedUpPrincipal, Tokens
from mindspace.identity.errors import EmailTaken, LinkExpired, LinkInvalid, WeakPassword
from mindspace.identity.schemas import (
    EmailChangeRequest,
    ForgotPasswordRequest,
    ResetPasswordRequest,
    VerifyEmailRequest,
)
from mindspace.platform.errors import Forbidden, RateLimited, Unauthenticated, problem_responses
from mindspace.platform.ratelimit import rate_limit
from mindspace.platform.schemas import Message
from mindspace.platform.web import (
    CurrentPrincipal,
    RequestOrigin,
    SignInSession,
    UserSession,
    require_principal,
)

router = APIRouter(prefix="/auth", tags=["auth"])

EMAIL_VERIFIED = "Thank you: your email address is confirmed."
VERIFICATION_SENT = "If your email still needs confirming, a new link is on its way."
RESET_SENT = "If this email has an account, a link to reset its password is on its way."
RESET_DONE = "Your password is changed and every device was signed out. Sign in again."


@router.post(
    "/verify-email",
    responses=problem_responses(LinkInvalid, LinkExpired, RateLimited),
    dependencies=[Depends(rate_limit("30/hour", name="verify_email"))],
)
async def verify_email(
    body: VerifyEmailRequest, session: SignInSession, origin: RequestOrigin
) -> Message:
    """Confirms an email address with the token from the link we sent to it."""
    await service.verify_email(session, token=body.token, origin=origin)
    return Message(detail=EMAIL_VERIFIED)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(Unauthenticated, RateLimited),
    # The principal first, so the limit counts per person rather than per address.
    dependencies=[
        Depends(require_principal),
        Depends(rate_limit("3/hour", name="verify_email_resend", per="principal")),
    ],
)
async def resend_verification(
    session: UserSession, principal: CurrentPrincipal, base_url: PublicBaseUrl
) -> Message:
    """Sends a new verification link; does nothing when the address is already confirmed."""
    await service.resend_verification(session, principal, base_url=base_url)
    return Message(detail=VERIFICATION_SENT)


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(RateLimited),
    dependencies=[Depends(rate_limit("5/hour", name="forgot_password"))],
)
async def forgot_password(
    body: ForgotPasswordRequest,
    session: SignInSession,
    origin: RequestOrigin,
    base_url: PublicBaseUrl,
) -> Message:
    """Emails a reset link. The answer is the same whether or not the email has an account."""
    await service.forgot_password(session, email=str(body.email), base_url=base_url, origin=origin)
    return Message(detail=RESET_SENT)


@router.post(
    "/reset-password",
    responses=problem_responses(LinkInvalid, LinkExpired, WeakPassword, RateLimited),
    dependencies=[Depends(rate_limit("10/hour", name="reset_password"))],
)
async def reset_password(
    body: ResetPasswordRequest, session: SignInSession, tokens: Tokens, origin: RequestOrigin
) -> Message:
    """Sets a new password with the token from a reset link; every session of the account
    ends."""
    await service.reset_password(
        session, tokens, token=body.token, new_password=body.new_password, origin=origin
    )
    return Message(detail=RESET_DONE)


CHANGE_SENT = "Open the link we sent to the new address to finish the change."
EMAIL_CHANGED = "Your account now uses the new email address."


@router.post(
    "/email-change",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(Unauthenticated, Forbidden, RateLimited),
    dependencies=[
        Depends(require_principal),
        Depends(rate_limit("5/hour", name="email_change", per="principal")),
    ],
)
async def request_email_change(
    body: EmailChangeRequest,
    session: UserSession,
    principal: SteppedUpPrincipal,
    base_url: PublicBaseUrl,
) -> Message:
    """Moves the account to a new address once that address confirms. Needs a fresh step-up."""
    await service.request_email_change(
        session, principal, new_email=str(body.new_email), base_url=base_url
    )
    return Message(detail=CHANGE_SENT)


@router.post(
    "/confirm-email-change",
    responses=problem_responses(LinkInvalid, LinkExpired, EmailTaken, RateLimited),
    dependencies=[Depends(rate_limit("30/hour", name="confirm_email_change"))],
)
async def confirm_email_change(
    body: VerifyEmailRequest, session: SignInSession, origin: RequestOrigin
) -> Message:
    await service.confirm_email_change(session, token=body.token, origin=origin)
    return Message(detail=EMAIL_CHANGED)

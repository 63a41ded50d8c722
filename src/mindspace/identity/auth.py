"""Route dependencies for identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mindspace.identity import service
from mindspace.identity.errors import VerificationRequired
from mindspace.identity.tokens import TokenService
from mindspace.platform.ratelimit import RateLimiter
from mindspace.platform.security import Principal
from mindspace.platform.web import CurrentPrincipal, UserSession


async def get_tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


Tokens = Annotated[TokenService, Depends(get_tokens)]


async def public_base_url(request: Request) -> str:
    """Where links in emails point: the public address of the app (settings.public_base_url)."""
    url: str = request.app.state.settings.public_base_url
    return url


async def require_verified(principal: CurrentPrincipal, session: UserSession) -> Principal:
    """Features that reach other people (posting, booking, buying) need a verified email or
    phone; private features do not, so nobody is slowed down on a bad day."""
    if not await service.has_verified_contact(session, principal):
        raise VerificationRequired(
            "Confirm your email address (or phone number) to use this. "
            "We can send a new link from your account settings."
        )
    return principal


PublicBaseUrl = Annotated[str, Depends(public_base_url)]
VerifiedPrincipal = Annotated[Principal, Depends(require_verified)]


async def require_recent_step_up(principal: CurrentPrincipal, session: UserSession) -> Principal:
    """Sensitive changes (password, email, phone, data export) need this session to have
    proved its person again at /auth/step-up within the last few minutes."""
    await service.require_recent_step_up(session, principal)
    return principal


async def get_secret_box(request: Request) -> service.SecretBox:
    # Derived once per app from settings.secret_key, then reused.
    box: service.SecretBox | None = getattr(request.app.state, "secret_box", None)
    if box is None:
        box = service.SecretBox(request.app.state.settings.secret_key.get_secret_value())
        request.app.state.secret_box = box
    return box


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


SteppedUpPrincipal = Annotated[Principal, Depends(require_recent_step_up)]
SecretBoxDep = Annotated[service.SecretBox, Depends(get_secret_box)]
Limiter = Annotated[RateLimiter, Depends(get_rate_limiter)]

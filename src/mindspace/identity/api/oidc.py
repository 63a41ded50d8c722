"""Sign-in with Google and other OpenID Connect providers, and the providers linked to my
account.

A client asks `start` for the provider's authorization URL and sends the browser there; the
provider sends it back to the `redirect_uri` with `code` and `state`, which the client posts to
the matching `callback`. Linking uses its own start and callback, both signed in, so a flow
started by one person can never attach a provider to another person's account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from mindspace.identity import service
from mindspace.identity.auth import SecretBoxDep, Tokens
from mindspace.identity.errors import (
    AccountExists,
    AccountUnavailable,
    IdentityAlreadyLinked,
    IdentityLinkNotFound,
    LastSignInMethod,
    OidcProviderNotFound,
    OidcProviderUnavailable,
    OidcSignInFailed,
    OidcStateInvalid,
    RedirectUriNotAllowed,
    TwoFactorRequired,
)
from mindspace.identity.oidc_providers import OidcProviders
from mindspace.identity.schemas import (
    AuthorizationUrl,
    IdentityLinkId,
    IdentityLinkOut,
    OidcCallback,
    OidcProviderOut,
    OidcSignInCallback,
    OidcStart,
    TokenPair,
)
from mindspace.platform.errors import RateLimited, Unauthenticated, problem_responses
from mindspace.platform.pagination import Page, Paging
from mindspace.platform.ratelimit import rate_limit
from mindspace.platform.web import CurrentPrincipal, RequestOrigin, SignInSession, UserSession

router = APIRouter()
auth = APIRouter(prefix="/auth/oidc", tags=["auth"])
links = APIRouter(prefix="/users/me/links", tags=["users"])


async def get_oidc_providers(request: Request) -> OidcProviders:
    """The providers read from MINDSPACE_OIDC_* at start-up (a bad setting stops start-up)."""
    providers: OidcProviders = request.app.state.oidc
    return providers


Providers = Annotated[OidcProviders, Depends(get_oidc_providers)]
_start_limit = Depends(rate_limit("30/minute", name="oidc-start"))
_callback_limit = Depends(rate_limit("30/minute", name="oidc-callback"))
_START_ERRORS = (OidcProviderNotFound, RedirectUriNotAllowed, OidcProviderUnavailable, RateLimited)
_CALLBACK_ERRORS = (
    OidcProviderNotFound,
    OidcStateInvalid,
    OidcSignInFailed,
    OidcProviderUnavailable,
    RateLimited,
)


@auth.get("/providers")
async def list_providers(providers: Providers) -> list[OidcProviderOut]:
    """The providers this deployment signs in with (none unless configured)."""
    return service.list_oidc_providers(providers)


@auth.post(
    "/{provider}/start",
    responses=problem_responses(*_START_ERRORS),
    dependencies=[_start_limit],
)
async def start_sign_in(
    provider: str, body: OidcStart, session: SignInSession, providers: Providers
) -> AuthorizationUrl:
    """Begins sign-in (or sign-up) with a provider: send the browser to the URL returned."""
    return await service.start_oidc_sign_in(
        session, providers, provider=provider, redirect_uri=body.redirect_uri
    )


@auth.post(
    "/{provider}/callback",
    responses=problem_responses(
        *_CALLBACK_ERRORS, AccountExists, AccountUnavailable, TwoFactorRequired
    ),
    dependencies=[_callback_limit],
)
async def finish_sign_in(
    provider: str,
    body: OidcSignInCallback,
    session: SignInSession,
    providers: Providers,
    tokens: Tokens,
    box: SecretBoxDep,
    origin: RequestOrigin,
) -> TokenPair:
    """Finishes sign-in with the `code` and `state` the provider sent back. A provider account
    seen for the first time gets a new Mindspace account, unless its verified email already
    has one: then 409 account-exists (sign in to that account and link the provider from
    settings; accounts are never joined by email alone)."""
    return await service.finish_oidc_sign_in(
        session,
        providers,
        tokens,
        box,
        provider=provider,
        code=body.code,
        state=body.state,
        origin=origin,
        totp_code=body.totp_code,
        recovery_code=body.recovery_code,
    )


@links.get("", responses=problem_responses(Unauthenticated))
async def list_links(
    session: UserSession, principal: CurrentPrincipal, paging: Paging
) -> Page[IdentityLinkOut]:
    """The providers that sign in to my account, newest first."""
    return await service.list_identity_links(session, principal, paging)


@links.post(
    "/{provider}/start",
    responses=problem_responses(Unauthenticated, *_START_ERRORS),
    dependencies=[_start_limit],
)
async def start_link(
    provider: str,
    body: OidcStart,
    session: SignInSession,
    principal: CurrentPrincipal,
    providers: Providers,
) -> AuthorizationUrl:
    """Begins linking a provider to my account: send the browser to the URL returned, then
    post what comes back to this provider's link callback (not the sign-in one)."""
    return await service.start_oidc_link(
        session, principal, providers, provider=provider, redirect_uri=body.redirect_uri
    )


@links.post(
    "/{provider}/callback",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(Unauthenticated, *_CALLBACK_ERRORS, IdentityAlreadyLinked),
    dependencies=[_callback_limit],
)
async def finish_link(
    provider: str,
    body: OidcCallback,
    session: SignInSession,
    principal: CurrentPrincipal,
    providers: Providers,
    origin: RequestOrigin,
) -> IdentityLinkOut:
    """Links the provider account that just signed in at the provider to my account."""
    return await service.finish_oidc_link(
        session,
        principal,
        providers,
        provider=provider,
        code=body.code,
        state=body.state,
        origin=origin,
    )


@links.delete(
    "/{link_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(Unauthenticated, IdentityLinkNotFound, LastSignInMethod),
)
async def unlink(
    link_id: IdentityLinkId,
    session: UserSession,
    principal: CurrentPrincipal,
    origin: RequestOrigin,
) -> Response:
    """Stops a provider signing in to my account; refused if it is the only way left in."""
    await service.unlink_identity(session, principal, link_id=link_id, origin=origin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(auth)
router.include_router(links)

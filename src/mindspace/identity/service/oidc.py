"""Sign-in with OpenID Connect providers (Google, or any provider from settings), and linking
them to an account.

- A flow starts here: its state, nonce and PKCE verifier are made and kept server-side (the
  state only as a hash); the person's browser goes to the provider and comes back with a code;
  the callback finishes the flow once, within FLOW_LIFETIME, for the provider and the person it
  was started for.
- The provider's subject names the account, an email address never does. A sign-in whose
  verified email already belongs to an account is refused (`account-exists`) rather than
  linked: linking happens only from a signed-in session, so nobody gets into an account by
  making a provider identity with its address.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity, repository
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import (
    AccountExists,
    IdentityAlreadyLinked,
    IdentityLinkNotFound,
    LastSignInMethod,
    OidcProviderNotFound,
    OidcStateInvalid,
    OidcTwoFactorRequired,
    RedirectUriNotAllowed,
    UserNotFound,
    WrongSecondFactor,
)
from mindspace.identity.models import IdentityLink, OidcFlow, UserAccount
from mindspace.identity.oidc_providers import (
    OidcProvider,
    OidcProviders,
    ProviderIdentity,
    new_flow_secrets,
)
from mindspace.identity.schemas import AuthorizationUrl, IdentityLinkOut, OidcProviderOut, TokenPair
from mindspace.identity.service import lockout
from mindspace.identity.service.accounts import (
    announce_new_account,
    ensure_may_sign_in,
    normalise_email,
    start_session,
)
from mindspace.identity.service.two_factor import SecondFactor, SecretBox, check_second_factor
from mindspace.identity.tokens import TokenService
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.ids import new_id
from mindspace.platform.pagination import Page, PageParams, keyset, page
from mindspace.platform.security import Principal, Role

FLOW_LIFETIME = timedelta(minutes=10)
NEW_ACCOUNT_NAME = "Friend"  # until they choose one, as for phone sign-up
DISPLAY_NAME_MAX = 80


def list_oidc_providers(providers: OidcProviders) -> list[OidcProviderOut]:
    return [OidcProviderOut(name=name) for name in providers.names()]


def _provider(providers: OidcProviders, name: str) -> OidcProvider:
    provider = providers.get(name)
    if provider is None:
        raise OidcProviderNotFound()
    return provider


def _state_hash(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


async def start_oidc_sign_in(
    session: AsyncSession, providers: OidcProviders, *, provider: str, redirect_uri: str
) -> AuthorizationUrl:
    """Where to send the person's browser to sign in (or sign up) with `provider`."""
    return await _start(session, providers, provider=provider, redirect_uri=redirect_uri)


async def start_oidc_link(
    session: AsyncSession,
    principal: Principal,
    providers: OidcProviders,
    *,
    provider: str,
    redirect_uri: str,
) -> AuthorizationUrl:
    """Where to send a signed-in person's browser to link `provider` to their account; only
    `finish_oidc_link`, by the same person, can finish this flow."""
    return await _start(
        session, providers, provider=provider, redirect_uri=redirect_uri, link_to=principal.user_id
    )


async def _start(
    session: AsyncSession,
    providers: OidcProviders,
    *,
    provider: str,
    redirect_uri: str,
    link_to: uuid.UUID | None = None,
) -> AuthorizationUrl:
    chosen = _provider(providers, provider)
    if not providers.redirect_allowed(chosen, redirect_uri):
        raise RedirectUriNotAllowed()
    state, nonce, code_verifier = new_flow_secrets()
    url = await chosen.authorization_url(
        redirect_uri=redirect_uri, state=state, nonce=nonce, code_verifier=code_verifier
    )
    now = utc_now()
    # Abandoned flows go with the next start: an expired flow is refused anyway.
    await session.execute(delete(OidcFlow).where(OidcFlow.expires_at < now))
    session.add(
        OidcFlow(
            id=new_id(),
            provider=provider,
            state_hash=_state_hash(state),
            nonce=nonce,
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            link_user_id=link_to,
            expires_at=now + FLOW_LIFETIME,
        )
    )
    await session.flush()
    return AuthorizationUrl(authorization_url=url)


async def _spend_flow(
    session: AsyncSession, *, provider: str, state: str, link_to: uuid.UUID | None
) -> OidcFlow:
    stmt = select(OidcFlow).where(OidcFlow.state_hash == _state_hash(state)).with_for_update()
    flow = (await session.execute(stmt)).scalar_one_or_none()
    now = utc_now()
    if (
        flow is None
        or flow.provider != provider
        or flow.link_user_id != link_to
        or flow.used_at is not None
        or flow.expires_at <= now
    ):
        raise OidcStateInvalid("Start again from the sign-in page.")
    flow.used_at = now
    await session.flush()
    return flow


async def _exchange(provider: OidcProvider, flow: OidcFlow, code: str) -> ProviderIdentity:
    return await provider.exchange(
        code=code,
        redirect_uri=flow.redirect_uri,
        code_verifier=flow.code_verifier,
        nonce=flow.nonce,
    )


async def _find_link(session: AsyncSession, provider: str, subject: str) -> IdentityLink | None:
    stmt = select(IdentityLink).where(
        IdentityLink.provider == provider, IdentityLink.subject == subject
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def finish_oidc_sign_in(
    session: AsyncSession,
    providers: OidcProviders,
    tokens: TokenService,
    box: SecretBox,
    *,
    provider: str,
    code: str,
    state: str,
    origin: Origin,
    totp_code: str | None = None,
    recovery_code: str | None = None,
) -> TokenPair:
    """Signs in the account linked to the provider identity, or creates one for it. An account
    with two-factor on needs its second factor too, as with every other sign-in method."""
    chosen = _provider(providers, provider)
    flow = await _spend_flow(session, provider=provider, state=state, link_to=None)
    # A flow that already has a subject was vouched for by the provider and waits only for
    # the second factor: its code is spent, so there is nothing to exchange again.
    identity = await _exchange(chosen, flow, code) if flow.subject is None else None
    subject = identity.subject if identity is not None else flow.subject
    details: dict[str, Any] = {"method": f"oidc:{provider}"}
    link = await _find_link(session, provider, str(subject))
    user = await repository.get_user(session, link.owner_id) if link is not None else None
    if user is None:
        if identity is None:  # unlinked while the second factor was awaited
            raise OidcStateInvalid("Start again from the sign-in page.")
        user = await _sign_up(session, provider=provider, identity=identity, origin=origin)
        details["new_account"] = True
    ensure_may_sign_in(user)
    if totp_code is not None or recovery_code is not None:
        # Wrong codes count towards the account lock, which then stops further guesses here.
        lockout.raise_if_locked(user)
    second = await check_second_factor(
        session, box, user.id, totp_code=totp_code, recovery_code=recovery_code
    )
    if second in (SecondFactor.missing, SecondFactor.invalid):
        flow.used_at, flow.subject = None, subject
        await session.flush()
        if second is SecondFactor.missing:
            raise OidcTwoFactorRequired(
                "Send totp_code (or recovery_code) with the same code and state."
            )
        await lockout.record_failure(session, user, origin=origin)
        raise WrongSecondFactor("That code is not right, or it was already used.")
    if second is SecondFactor.valid:
        lockout.record_success(user)
    details["two_factor"] = second is SecondFactor.valid
    activity.record(session, user.id, ActivityKind.signed_in, origin=origin, details=details)
    return await start_session(session, tokens, user, origin)


async def _sign_up(
    session: AsyncSession, *, provider: str, identity: ProviderIdentity, origin: Origin
) -> UserAccount:
    email = normalise_email(identity.email) if identity.email and identity.email_verified else None
    refusal = (
        f"An account already uses {email}. Sign in to it another way, then link {provider} "
        "from your settings."
    )
    if email is not None and await repository.find_user_by_email(session, email) is not None:
        raise AccountExists(refusal)
    name = (identity.name or NEW_ACCOUNT_NAME)[:DISPLAY_NAME_MAX].strip() or NEW_ACCOUNT_NAME
    now = utc_now()
    user = UserAccount(
        id=new_id(),
        email=email,
        email_verified_at=now if email else None,
        display_name=name,
        roles=[Role.member.value],
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        # A concurrent sign-up took the address between the look-up and the insert.
        raise AccountExists(refusal) from None
    await session.refresh(user)  # server defaults (status, roles) for the session's token
    session.add(
        IdentityLink(
            id=new_id(),
            owner_id=user.id,
            provider=provider,
            subject=identity.subject,
            email=identity.email,
            created_at=now,
        )
    )
    await session.flush()
    announce_new_account(session, user, origin, method=f"oidc:{provider}")
    return user


async def finish_oidc_link(
    session: AsyncSession,
    principal: Principal,
    providers: OidcProviders,
    *,
    provider: str,
    code: str,
    state: str,
    origin: Origin,
) -> IdentityLinkOut:
    """Links the provider identity to the signed-in person who started the flow. Linking the
    same identity again is a no-op; an identity that signs in to another account is refused."""
    chosen = _provider(providers, provider)
    flow = await _spend_flow(session, provider=provider, state=state, link_to=principal.user_id)
    identity = await _exchange(chosen, flow, code)
    taken = (
        f"This {provider} account signs in to another Mindspace account. Sign in to that one "
        "and unlink it there first."
    )
    existing = await _find_link(session, provider, identity.subject)
    if existing is not None:
        if existing.owner_id != principal.user_id:
            raise IdentityAlreadyLinked(taken)
        return IdentityLinkOut.model_validate(existing)
    link = IdentityLink(
        id=new_id(),
        owner_id=principal.user_id,
        provider=provider,
        subject=identity.subject,
        email=identity.email,
        created_at=utc_now(),
    )
    try:
        async with session.begin_nested():
            session.add(link)
            await session.flush()
    except IntegrityError:
        raise IdentityAlreadyLinked(taken) from None
    activity.record(
        session,
        principal.user_id,
        ActivityKind.provider_linked,
        origin=origin,
        details={"provider": provider, "email": identity.email},
    )
    return IdentityLinkOut.model_validate(link)


LINK_COLUMNS = (
    IdentityLink.id,
    IdentityLink.provider,
    IdentityLink.email,
    IdentityLink.created_at,
)


def readable_links(principal: Principal) -> Select[*tuple[Any, ...]]:
    return select(*LINK_COLUMNS).where(IdentityLink.owner_id == principal.user_id)


async def list_identity_links(
    session: AsyncSession, principal: Principal, params: PageParams
) -> Page[IdentityLinkOut]:
    stmt = keyset(readable_links(principal), params, IdentityLink.id)
    rows = (await session.execute(stmt)).all()
    items = [IdentityLinkOut.model_validate(r._mapping) for r in rows]
    return page(items, params, key=lambda item: (item.id,))


async def unlink_identity(
    session: AsyncSession, principal: Principal, *, link_id: uuid.UUID, origin: Origin
) -> None:
    """Removes a linked provider, unless it is the only way left to sign in."""
    # The account row is locked first so two unlinks cannot each leave the other as the last.
    user = (
        await session.execute(
            select(UserAccount).where(UserAccount.id == principal.user_id).with_for_update()
        )
    ).scalar_one_or_none()
    if user is None:
        raise UserNotFound()
    link = (
        await session.execute(
            select(IdentityLink).where(
                IdentityLink.owner_id == principal.user_id, IdentityLink.id == link_id
            )
        )
    ).scalar_one_or_none()
    if link is None:
        raise IdentityLinkNotFound()
    others = (
        await session.execute(
            select(func.count())
            .select_from(IdentityLink)
            .where(IdentityLink.owner_id == principal.user_id, IdentityLink.id != link_id)
        )
    ).scalar_one()
    if user.password_hash is None and user.phone is None and others == 0:
        raise LastSignInMethod(
            "Set a password or add a phone number first, so you can still sign in."
        )
    await session.delete(link)
    await session.flush()
    activity.record(
        session,
        principal.user_id,
        ActivityKind.provider_unlinked,
        origin=origin,
        details={"provider": link.provider},
    )

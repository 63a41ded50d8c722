"""Sign-in with OpenID Connect, end to end against a real provider running on 127.0.0.1
(`oidc-provider-mock`): discovery, the authorization form, the code exchange, the ID token
signed by the provider's published key."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
import pytest_asyncio
import werkzeug.serving
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select, update

from mindspace.identity.activity import AccountActivity
from mindspace.identity.models import AuthSession, IdentityLink, OidcFlow, UserAccount
from mindspace.identity.oidc_providers import OidcProviderConfig, OidcProviders, OidcSettings
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from tests.conftest import Person, assert_problem, create_user

with warnings.catch_warnings():
    # The provider is built on Authlib's older JOSE module, which warns when imported.
    from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock  # type: ignore[import-untyped]

# The provider runs in this process, so the warnings its Authlib raises are ours to filter.
pytestmark = pytest.mark.filterwarnings(
    "ignore:get_jwt_config\\(self, grant\\) is deprecated:DeprecationWarning"
)

API = "/api/v1"
OIDC = f"{API}/auth/oidc"
ME = f"{API}/users/me"
LINKS = f"{ME}/links"
PROVIDER = "mock"
CLIENT_ID = "mindspace-test"


class _QuietHandler(werkzeug.serving.WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture(scope="session")
def provider_url() -> Iterator[str]:
    """A real OpenID provider on a free loopback port, in a thread, for this worker's run."""
    server = werkzeug.serving.make_server(
        "127.0.0.1",
        0,
        oidc_provider_mock.app(require_nonce=True),
        threaded=True,
        request_handler=_QuietHandler,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def providers(app: FastAPI, provider_url: str) -> Iterator[OidcProviders]:
    """The app configured with the local provider (in place of what the environment says)."""
    before = getattr(app.state, "oidc", None)
    configured = OidcProviders(
        [
            OidcProviderConfig(
                name=PROVIDER,
                issuer=provider_url,
                client_id=CLIENT_ID,
                client_secret=SecretStr("test-client-secret"),  # the provider accepts any
            )
        ],
        public_base_url=app.state.settings.public_base_url,
    )
    app.state.oidc = configured
    yield configured
    app.state.oidc = before


@pytest.fixture
def redirect_uri(app: FastAPI) -> str:
    return f"{app.state.settings.public_base_url}/sign-in/callback"


@pytest_asyncio.fixture
async def idp(provider_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The person's browser at the provider."""
    async with httpx.AsyncClient(base_url=provider_url) as browser:
        yield browser


# --- helpers ----------------------------------------------------------------------------------


def unique_sub() -> str:
    return f"sub-{uuid.uuid4().hex[:12]}"


async def set_claims(idp: httpx.AsyncClient, sub: str, **claims: Any) -> None:
    response = await idp.put(f"/users/{sub}", json=claims)
    assert response.status_code == 204, response.text


async def start(
    client: httpx.AsyncClient,
    redirect_uri: str,
    *,
    person: Person | None = None,
    provider: str = PROVIDER,
) -> str:
    path = f"{LINKS}/{provider}/start" if person else f"{OIDC}/{provider}/start"
    response = await client.post(
        path, json={"redirect_uri": redirect_uri}, headers=person.headers if person else None
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["authorization_url"]
    return url


async def authorize(idp: httpx.AsyncClient, authorization_url: str, sub: str) -> dict[str, str]:
    """The person picks `sub` on the provider's form; returns what comes back to the app."""
    response = await idp.post(authorization_url, data={"sub": sub})
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {"code": query["code"][0], "state": query["state"][0]}


async def sign_in(
    client: httpx.AsyncClient, idp: httpx.AsyncClient, redirect_uri: str, sub: str
) -> httpx.Response:
    back = await authorize(idp, await start(client, redirect_uri), sub)
    return await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)


async def link(
    client: httpx.AsyncClient, idp: httpx.AsyncClient, redirect_uri: str, person: Person, sub: str
) -> httpx.Response:
    back = await authorize(idp, await start(client, redirect_uri, person=person), sub)
    return await client.post(f"{LINKS}/{PROVIDER}/callback", json=back, headers=person.headers)


async def me(client: httpx.AsyncClient, access_token: str) -> dict[str, Any]:
    response = await client.get(ME, headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(db: Database, model: type[Any]) -> int:
    async with db.session(None, scope=DbScope.system) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def activities(db: Database, user_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    async with db.session(None, scope=DbScope.system) as session:
        rows = await session.execute(
            select(AccountActivity.kind, AccountActivity.details)
            .where(AccountActivity.owner_id == user_id)
            .order_by(AccountActivity.id)
        )
        return [(kind, details) for kind, details in rows]


def pointers(problem: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in problem["errors"]}


# --- settings ---------------------------------------------------------------------------------


def test_no_provider_is_configured_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROVIDERS", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"):
        monkeypatch.delenv(f"MINDSPACE_OIDC_{name}", raising=False)
    assert OidcSettings(_env_file=None).configured() == []


def test_settings_read_a_json_list_and_the_google_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MINDSPACE_OIDC_PROVIDERS",
        '[{"name": "acme", "issuer": "https://id.acme.example", "client_id": "c1",'
        ' "client_secret": "s1", "scopes": ["openid", "email"]}]',
    )
    monkeypatch.setenv("MINDSPACE_OIDC_GOOGLE_CLIENT_ID", "g-id")
    monkeypatch.setenv("MINDSPACE_OIDC_GOOGLE_CLIENT_SECRET", "g-secret")
    configured = {p.name: p for p in OidcSettings(_env_file=None).configured()}
    assert configured["acme"].scopes == ("openid", "email")
    assert configured["acme"].metadata_url == (
        "https://id.acme.example/.well-known/openid-configuration"
    )
    assert configured["google"].issuer == "https://accounts.google.com"
    assert configured["google"].client_id == "g-id"


@pytest.mark.parametrize(
    "entry",
    [
        '{"name": "x", "issuer": "http://id.example.org", "client_id": "c"}',  # not https
        '{"name": "x", "issuer": "https://id.example.org", "client_id": "c", "scopes": ["email"]}',
        '{"name": "Bad Name", "issuer": "https://id.example.org", "client_id": "c"}',
    ],
)
def test_settings_refuse_unsafe_providers(monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    monkeypatch.setenv("MINDSPACE_OIDC_PROVIDERS", f"[{entry}]")
    with pytest.raises(ValueError, match="validation error"):
        OidcSettings(_env_file=None)


# --- providers --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_configured_providers_are_listed_by_name(
    client: httpx.AsyncClient, providers: OidcProviders
) -> None:
    response = await client.get(f"{OIDC}/providers")
    assert response.status_code == 200, response.text
    assert response.json() == [{"name": PROVIDER}]


@pytest.mark.asyncio
async def test_with_no_provider_configured_the_list_is_empty(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    before = getattr(app.state, "oidc", None)
    app.state.oidc = OidcProviders([], public_base_url=app.state.settings.public_base_url)
    try:
        response = await client.get(f"{OIDC}/providers")
        assert response.json() == []
        unknown = await client.post(
            f"{OIDC}/google/start", json={"redirect_uri": "http://127.0.0.1:8000/cb"}
        )
        assert_problem(unknown, 404, "oidc-provider-not-found")
    finally:
        app.state.oidc = before


# --- sign-in ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sign_in_creates_an_account_and_the_next_sign_in_reaches_it(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    await set_claims(idp, sub, email="Ada@Example.org", email_verified=True, name="Ada")

    first = await sign_in(client, idp, redirect_uri, sub)
    assert first.status_code == 200, first.text
    pair = first.json()
    assert pair["token_type"] == "Bearer"
    assert pair["refresh_token"]
    profile = await me(client, pair["access_token"])
    assert profile["email"] == "ada@example.org"
    assert profile["email_verified"] is True
    assert profile["display_name"] == "Ada"

    second = await sign_in(client, idp, redirect_uri, sub)
    assert second.status_code == 200, second.text
    assert (await me(client, second.json()["access_token"]))["id"] == profile["id"]
    assert await count(db, UserAccount) == 1

    links = await client.get(LINKS, headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert [(i["provider"], i["email"]) for i in links.json()["items"]] == [
        (PROVIDER, "Ada@Example.org")
    ]
    async with db.session(None, scope=DbScope.system) as session:
        user_id = (await session.execute(select(UserAccount.id))).scalar_one()
    signed_in = [d for kind, d in await activities(db, user_id) if kind == "signed_in"]
    assert [d["method"] for d in signed_in] == [f"oidc:{PROVIDER}"] * 2
    assert signed_in[0]["new_account"] is True


@pytest.mark.asyncio
async def test_an_unverified_email_is_not_taken_for_the_new_account(
    client: httpx.AsyncClient, idp: httpx.AsyncClient, providers: OidcProviders, redirect_uri: str
) -> None:
    sub = unique_sub()
    await set_claims(idp, sub, email="maybe@example.org", email_verified=False)
    response = await sign_in(client, idp, redirect_uri, sub)
    assert response.status_code == 200, response.text
    profile = await me(client, response.json()["access_token"])
    assert profile["email"] is None
    assert profile["email_verified"] is False


@pytest.mark.asyncio
async def test_the_authorization_url_uses_pkce_s256_state_and_nonce(
    client: httpx.AsyncClient,
    db: Database,
    providers: OidcProviders,
    redirect_uri: str,
    provider_url: str,
) -> None:
    url = await start(client, redirect_uri)
    assert url.startswith(f"{provider_url}/oauth2/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == redirect_uri
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == "S256"
    async with db.session(None, scope=DbScope.system) as session:
        flow = (await session.execute(select(OidcFlow))).scalar_one()
    # The verifier stays on the server; the URL carries only its SHA-256.
    expected = base64.urlsafe_b64encode(hashlib.sha256(flow.code_verifier.encode()).digest())
    assert query["code_challenge"] == expected.rstrip(b"=").decode()
    assert query["nonce"] == flow.nonce
    assert flow.state_hash == hashlib.sha256(query["state"].encode()).digest()
    assert flow.code_verifier not in url
    assert flow.link_user_id is None


@pytest.mark.asyncio
async def test_a_tampered_state_is_refused_and_creates_nothing(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    back = await authorize(idp, await start(client, redirect_uri), sub)
    response = await client.post(
        f"{OIDC}/{PROVIDER}/callback", json={**back, "state": back["state"][:-2] + "xx"}
    )
    assert_problem(response, 400, "oidc-state-invalid")
    assert await count(db, UserAccount) == 0
    assert await count(db, IdentityLink) == 0


@pytest.mark.asyncio
async def test_a_state_works_once(
    client: httpx.AsyncClient, idp: httpx.AsyncClient, providers: OidcProviders, redirect_uri: str
) -> None:
    back = await authorize(idp, await start(client, redirect_uri), unique_sub())
    first = await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)
    assert first.status_code == 200, first.text
    replay = await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)
    assert_problem(replay, 400, "oidc-state-invalid")


@pytest.mark.asyncio
async def test_an_expired_flow_is_refused(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    back = await authorize(idp, await start(client, redirect_uri), unique_sub())
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(update(OidcFlow).values(expires_at=utc_now()))
    response = await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)
    assert_problem(response, 400, "oidc-state-invalid")
    assert await count(db, UserAccount) == 0


@pytest.mark.asyncio
async def test_an_id_token_for_another_nonce_is_refused_and_spends_the_flow(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    back = await authorize(idp, await start(client, redirect_uri), unique_sub())
    # The provider signed the nonce it was sent; this side now expects another.
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(update(OidcFlow).values(nonce="not-the-nonce-that-was-sent"))
    response = await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)
    body = assert_problem(response, 401, "oidc-sign-in-failed")
    assert "nonce" in body["detail"]
    assert await count(db, UserAccount) == 0
    again = await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)
    assert_problem(again, 400, "oidc-state-invalid")


@pytest.mark.asyncio
async def test_a_code_the_provider_did_not_issue_is_refused(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    back = await authorize(idp, await start(client, redirect_uri), unique_sub())
    response = await client.post(
        f"{OIDC}/{PROVIDER}/callback", json={**back, "code": "made-up-code"}
    )
    assert_problem(response, 401, "oidc-sign-in-failed")
    assert await count(db, UserAccount) == 0


@pytest.mark.asyncio
async def test_an_email_that_has_an_account_is_not_linked_silently(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    owner = await create_user(db, app.state.tokens, email="taken@example.org")
    sub = unique_sub()
    await set_claims(idp, sub, email="Taken@example.org", email_verified=True)
    response = await sign_in(client, idp, redirect_uri, sub)
    body = assert_problem(response, 409, "account-exists")
    assert "link" in body["detail"]
    assert await count(db, IdentityLink) == 0
    assert await count(db, UserAccount) == 1
    assert await activities(db, owner.id) == []


@pytest.mark.asyncio
async def test_a_suspended_account_cannot_sign_in_through_its_provider(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    assert (await link(client, idp, redirect_uri, user, sub)).status_code == 201
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(UserAccount).where(UserAccount.id == user.id).values(status="suspended")
        )
    response = await sign_in(client, idp, redirect_uri, sub)
    assert_problem(response, 401, "account-unavailable")


@pytest.mark.asyncio
async def test_an_account_with_two_factor_needs_its_code_too(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    assert (await link(client, idp, redirect_uri, user, sub)).status_code == 201
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == user.principal.session_id)
            .values(stepped_up_at=utc_now())
        )
    setup = await client.post(f"{ME}/2fa/setup", headers=user.headers)
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    confirm = await client.post(
        f"{ME}/2fa/confirm", json={"code": totp.now()}, headers=user.headers
    )
    assert confirm.status_code == 200, confirm.text

    back = await authorize(idp, await start(client, redirect_uri), sub)
    first = await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)
    assert_problem(first, 401, "two-factor-required")
    wrong = await client.post(f"{OIDC}/{PROVIDER}/callback", json={**back, "totp_code": "000000"})
    assert_problem(wrong, 401, "two-factor-required")
    # The provider's code is spent; the flow waits for the second factor instead.
    code = totp.at(time.time() + 30)
    done = await client.post(f"{OIDC}/{PROVIDER}/callback", json={**back, "totp_code": code})
    assert done.status_code == 200, done.text
    assert (await me(client, done.json()["access_token"]))["id"].startswith("usr_")
    replay = await client.post(f"{OIDC}/{PROVIDER}/callback", json={**back, "totp_code": code})
    assert_problem(replay, 400, "oidc-state-invalid")


# --- linking ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_link_from_a_signed_in_session_then_sign_in_reaches_that_account(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    # The provider's address differs from the account's, and may even be someone else's:
    # linking trusts the signed-in session, not the address.
    await set_claims(idp, sub, email="elsewhere@example.org", email_verified=True)
    linked = await link(client, idp, redirect_uri, user, sub)
    assert linked.status_code == 201, linked.text
    body = linked.json()
    assert body["id"].startswith("lnk_")
    assert body["provider"] == PROVIDER
    assert body["email"] == "elsewhere@example.org"

    listed = await client.get(LINKS, headers=user.headers)
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()["items"]] == [body["id"]]

    signed_in = await sign_in(client, idp, redirect_uri, sub)
    assert signed_in.status_code == 200, signed_in.text
    assert (await me(client, signed_in.json()["access_token"]))["email"] == user.email
    assert await count(db, UserAccount) == 1
    kinds = [kind for kind, _ in await activities(db, user.id)]
    assert kinds == ["provider_linked", "signed_in"]


@pytest.mark.asyncio
async def test_linking_the_same_identity_again_changes_nothing(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    first = await link(client, idp, redirect_uri, user, sub)
    again = await link(client, idp, redirect_uri, user, sub)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert await count(db, IdentityLink) == 1


@pytest.mark.asyncio
async def test_an_identity_linked_to_another_account_is_refused(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    assert (await link(client, idp, redirect_uri, other_user, sub)).status_code == 201
    response = await link(client, idp, redirect_uri, user, sub)
    assert_problem(response, 409, "identity-already-linked")
    assert (await client.get(LINKS, headers=user.headers)).json()["items"] == []


@pytest.mark.asyncio
async def test_a_link_flow_finishes_only_for_the_person_who_started_it(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    # Someone who starts linking and gets another person to finish it must not end up with
    # that person's provider account attached to their own.
    back = await authorize(idp, await start(client, redirect_uri, person=user), unique_sub())
    stolen = await client.post(
        f"{LINKS}/{PROVIDER}/callback", json=back, headers=other_user.headers
    )
    assert_problem(stolen, 400, "oidc-state-invalid")
    as_sign_in = await client.post(f"{OIDC}/{PROVIDER}/callback", json=back)
    assert_problem(as_sign_in, 400, "oidc-state-invalid")
    assert await count(db, IdentityLink) == 0


@pytest.mark.asyncio
async def test_unlink_removes_the_provider(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    sub = unique_sub()
    link_id = (await link(client, idp, redirect_uri, user, sub)).json()["id"]
    response = await client.delete(f"{LINKS}/{link_id}", headers=user.headers)
    assert response.status_code == 204, response.text
    assert (await client.get(LINKS, headers=user.headers)).json()["items"] == []
    assert [k for k, _ in await activities(db, user.id)] == ["provider_linked", "provider_unlinked"]
    again = await client.delete(f"{LINKS}/{link_id}", headers=user.headers)
    assert_problem(again, 404, "identity-link-not-found")
    # The provider account now makes a new account rather than reaching this one.
    signed_in = await sign_in(client, idp, redirect_uri, sub)
    assert (await me(client, signed_in.json()["access_token"]))["id"] != str(user.id)
    assert await count(db, UserAccount) == 2


@pytest.mark.asyncio
async def test_the_last_way_to_sign_in_cannot_be_unlinked(
    client: httpx.AsyncClient, idp: httpx.AsyncClient, providers: OidcProviders, redirect_uri: str
) -> None:
    pair = (await sign_in(client, idp, redirect_uri, unique_sub())).json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    link_id = (await client.get(LINKS, headers=headers)).json()["items"][0]["id"]
    response = await client.delete(f"{LINKS}/{link_id}", headers=headers)
    assert_problem(response, 409, "last-sign-in-method")
    assert len((await client.get(LINKS, headers=headers)).json()["items"]) == 1


@pytest.mark.asyncio
async def test_another_persons_link_is_not_found(
    client: httpx.AsyncClient,
    idp: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    providers: OidcProviders,
    redirect_uri: str,
) -> None:
    theirs = (await link(client, idp, redirect_uri, other_user, unique_sub())).json()["id"]
    response = await client.delete(f"{LINKS}/{theirs}", headers=user.headers)
    assert_problem(response, 404, "identity-link-not-found")
    assert (await client.get(LINKS, headers=user.headers)).json()["items"] == []
    assert await count(db, IdentityLink) == 1


# --- refusals common to every route -----------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", LINKS),
        ("POST", f"{LINKS}/{PROVIDER}/start"),
        ("POST", f"{LINKS}/{PROVIDER}/callback"),
        ("DELETE", f"{LINKS}/lnk_01JD8X4V2Q0000000000000000"),
    ],
)
async def test_link_routes_need_a_token(
    client: httpx.AsyncClient, providers: OidcProviders, method: str, path: str
) -> None:
    body = {"redirect_uri": "http://127.0.0.1:8000/cb"} if path.endswith("start") else None
    if path.endswith("callback"):
        body = {"code": "c", "state": "s"}
    response = await client.request(method, path, json=body)
    assert_problem(response, 401)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        (f"{OIDC}/{PROVIDER}/start", {}, "/body/redirect_uri"),
        (f"{OIDC}/{PROVIDER}/start", {"redirect_uri": "not a url"}, "/body/redirect_uri"),
        (
            f"{OIDC}/{PROVIDER}/start",
            {"redirect_uri": "javascript:alert(1)"},
            "/body/redirect_uri",
        ),
        (
            f"{OIDC}/{PROVIDER}/start",
            {"redirect_uri": "http://127.0.0.1:8000/cb", "admin": True},
            "/body/admin",
        ),
        (f"{OIDC}/{PROVIDER}/callback", {"code": "c"}, "/body/state"),
        (f"{OIDC}/{PROVIDER}/callback", {"code": "", "state": "s"}, "/body/code"),
        (
            f"{OIDC}/{PROVIDER}/callback",
            {"code": "c", "state": "s", "totp_code": "12"},
            "/body/totp_code",
        ),
    ],
)
async def test_sign_in_routes_refuse_bad_input(
    client: httpx.AsyncClient,
    providers: OidcProviders,
    path: str,
    body: dict[str, Any],
    pointer: str,
) -> None:
    response = await client.post(path, json=body)
    problem = assert_problem(response, 422, "validation-failed")
    assert pointer in pointers(problem)


@pytest.mark.asyncio
async def test_link_routes_refuse_bad_input(
    client: httpx.AsyncClient, user: Person, providers: OidcProviders
) -> None:
    response = await client.post(
        f"{LINKS}/{PROVIDER}/start", json={"redirect_uri": 5}, headers=user.headers
    )
    assert "/body/redirect_uri" in pointers(assert_problem(response, 422))
    response = await client.post(
        f"{LINKS}/{PROVIDER}/callback", json={"state": "s"}, headers=user.headers
    )
    assert "/body/code" in pointers(assert_problem(response, 422))
    # A malformed id names nothing: 404, as for any other resource.
    response = await client.delete(f"{LINKS}/usr_01JD8X4V2Q0000000000000000", headers=user.headers)
    assert_problem(response, 404)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/sign-in/callback",
        "http://127.0.0.1:8000.evil.example/cb",
        "https://127.0.0.1:8000/cb",  # another scheme is another origin
        "http://127.0.0.1:8001/cb",
    ],
)
async def test_a_redirect_uri_outside_the_app_is_refused(
    client: httpx.AsyncClient, db: Database, providers: OidcProviders, redirect_uri: str
) -> None:
    response = await client.post(f"{OIDC}/{PROVIDER}/start", json={"redirect_uri": redirect_uri})
    problem = assert_problem(response, 422, "redirect-uri-not-allowed")
    assert pointers(problem) == {"/body/redirect_uri"}
    assert await count(db, OidcFlow) == 0


@pytest.mark.asyncio
async def test_a_redirect_uri_configured_for_the_provider_is_allowed(
    client: httpx.AsyncClient, app: FastAPI, provider_url: str
) -> None:
    before = getattr(app.state, "oidc", None)
    app.state.oidc = OidcProviders(
        [
            OidcProviderConfig(
                name=PROVIDER,
                issuer=provider_url,
                client_id=CLIENT_ID,
                redirect_uris=("https://m.example/cb",),
            )
        ],
        public_base_url=app.state.settings.public_base_url,
    )
    try:
        response = await client.post(
            f"{OIDC}/{PROVIDER}/start", json={"redirect_uri": "https://m.example/cb"}
        )
        assert response.status_code == 200, response.text
    finally:
        app.state.oidc = before


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{OIDC}/nope/start", {"redirect_uri": "http://127.0.0.1:8000/cb"}),
        (f"{OIDC}/nope/callback", {"code": "c", "state": "s"}),
    ],
)
async def test_an_unknown_provider_is_not_found(
    client: httpx.AsyncClient, providers: OidcProviders, path: str, body: dict[str, str]
) -> None:
    assert_problem(await client.post(path, json=body), 404, "oidc-provider-not-found")


@pytest.mark.asyncio
async def test_linking_an_unknown_provider_is_not_found(
    client: httpx.AsyncClient, user: Person, providers: OidcProviders
) -> None:
    response = await client.post(
        f"{LINKS}/nope/start",
        json={"redirect_uri": "http://127.0.0.1:8000/cb"},
        headers=user.headers,
    )
    assert_problem(response, 404, "oidc-provider-not-found")


@pytest.mark.asyncio
async def test_a_provider_that_does_not_answer_is_a_502(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    before = getattr(app.state, "oidc", None)
    app.state.oidc = OidcProviders(
        # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        [OidcProviderConfig(name=PROVIDER, issuer="http://127.0.0.1:9", client_id=CLIENT_ID)],
        public_base_url=app.state.settings.public_base_url,
    )
    try:
        response = await client.post(
            f"{OIDC}/{PROVIDER}/start", json={"redirect_uri": "http://127.0.0.1:8000/cb"}
        )
        assert_problem(response, 502, "oidc-provider-unavailable")
    finally:
        app.state.oidc = before

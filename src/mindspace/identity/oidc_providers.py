"""OpenID Connect providers: which ones the deployment trusts (settings), and the protocol work
with each of them (discovery, the authorization URL, the code exchange, the ID token check).

Authlib's OAuth 2 client builds the authorization URL (code flow, PKCE S256) and exchanges the
code; the ID token's signature is checked with joserfc (Authlib's JOSE layer) against the keys the
provider publishes, and its claims (iss, aud, exp, iat, nonce, azp, at_hash) by Authlib's
`CodeIDToken`. No provider is configured by default: sign-in by password and phone still works.

Settings, from the environment (or `.env`):

- `MINDSPACE_OIDC_PROVIDERS`: a JSON list of `{"name", "issuer", "client_id", "client_secret",
  "scopes", "redirect_uris", "discovery_url"}` (only name, issuer and client_id are required).
- `MINDSPACE_OIDC_GOOGLE_CLIENT_ID` and `MINDSPACE_OIDC_GOOGLE_CLIENT_SECRET`: adds `google`.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mindspace.identity.errors import OidcProviderUnavailable, OidcSignInFailed

with warnings.catch_warnings():
    # Authlib warns at import that it will move from httpx to httpx2 in a later major version;
    # httpx is what this project (and its tests) use, and Authlib 1.x fully supports it. Its
    # own module turns its warnings to "always" when first imported, so this filter comes after.
    from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.common.security import (  # type: ignore[import-untyped]
        generate_token,
        is_secure_transport,
    )
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )
    from authlib.oauth2.client import (  # type: ignore[import-untyped]
        OAuth2Client as OAuth2Protocol,
    )
    from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]

GOOGLE_ISSUER = "https://accounts.google.com"
DEFAULT_SCOPES = ("openid", "email", "profile")
# Signatures by the provider's published keys only: "none" is no signature, and an HMAC-signed
# token would be keyed by the client secret, which this side also holds.
ID_TOKEN_ALGORITHMS = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    *("ES256", "ES384", "ES512", "EdDSA"),
)
METADATA_TTL_SECONDS = 3600
# A token signed with an unknown key makes us fetch the key set again, but not more often.
JWKS_REFRESH_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10.0
CLOCK_LEEWAY_SECONDS = 60
MAX_SUBJECT_LENGTH = 255


def _secure_url(value: str) -> str:
    # https, or http to a loopback address (a provider running on this machine, as in tests).
    if not is_secure_transport(value):
        raise ValueError("must be an https URL (http only for a loopback address)")
    return value


class OidcProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    issuer: str = Field(min_length=1, max_length=500)
    # Defaults to the issuer's /.well-known/openid-configuration.
    discovery_url: str | None = None
    client_id: str = Field(min_length=1, max_length=500)
    # None for a public client: PKCE alone then protects the code exchange.
    client_secret: SecretStr | None = None
    token_endpoint_auth_method: (
        Literal["client_secret_basic", "client_secret_post", "none"] | None
    ) = None
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    # Redirect URIs accepted besides those under the app's public URL (a mobile app's, say).
    redirect_uris: tuple[str, ...] = ()

    @field_validator("issuer", "discovery_url")
    @classmethod
    def _secure(cls, value: str | None) -> str | None:
        return None if value is None else _secure_url(value)

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError("must include 'openid'")
        return value

    @property
    def metadata_url(self) -> str:
        return self.discovery_url or (self.issuer.rstrip("/") + "/.well-known/openid-configuration")


class OidcSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MINDSPACE_OIDC_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    providers: list[OidcProviderConfig] = []
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OidcSettings:
        if bool(self.google_client_id) != bool(self.google_client_secret):
            raise ValueError(
                "set both MINDSPACE_OIDC_GOOGLE_CLIENT_ID and MINDSPACE_OIDC_GOOGLE_CLIENT_SECRET"
            )
        names = [p.name for p in self.configured()]
        if len(names) != len(set(names)):
            raise ValueError(f"OIDC provider names must be unique, got {names}")
        return self

    def configured(self) -> list[OidcProviderConfig]:
        """Every provider: the listed ones, plus Google when its client is given."""
        providers = list(self.providers)
        if self.google_client_id and self.google_client_secret:
            providers.append(
                OidcProviderConfig(
                    name="google",
                    issuer=GOOGLE_ISSUER,
                    client_id=self.google_client_id,
                    client_secret=self.google_client_secret,
                )
            )
        return providers


@dataclass(frozen=True, slots=True)
class ProviderIdentity:
    """Who the provider says signed in, from a verified ID token."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs more than the requests it protects.
    return httpx.create_ssl_context()


class OidcProvider:
    """One configured provider, with its discovery document and keys cached in memory."""

    def __init__(self, config: OidcProviderConfig) -> None:
        self.config = config
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.config.name

    def _client(self, redirect_uri: str) -> Any:
        secret = self.config.client_secret
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            token_endpoint_auth_method=self.config.token_endpoint_auth_method,
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_SECONDS,
            verify=_ssl_context(),
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(
                timeout=HTTP_TIMEOUT_SECONDS, verify=_ssl_context()
            ) as http:
                response = await http.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcProviderUnavailable(f"Could not read {url} from {self.name}.") from exc
        if not isinstance(body, dict):
            raise OidcProviderUnavailable(f"{url} from {self.name} is not a JSON object.")
        return body

    async def metadata(self) -> dict[str, Any]:
        async with self._lock:
            if (
                self._metadata is None
                or time.monotonic() - self._metadata_at > METADATA_TTL_SECONDS
            ):
                metadata = await self._get_json(self.config.metadata_url)
                # OpenID Connect Discovery 1.0 §4.3: the document must name the issuer we trust.
                if metadata.get("issuer") != self.config.issuer:
                    raise OidcProviderUnavailable(
                        f"{self.name}'s discovery document names another issuer."
                    )
                for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    value = metadata.get(endpoint)
                    if not isinstance(value, str) or not is_secure_transport(value):
                        raise OidcProviderUnavailable(
                            f"{self.name}'s discovery document lacks a usable {endpoint}."
                        )
                self._metadata, self._metadata_at = metadata, time.monotonic()
            return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        metadata = await self.metadata()
        async with self._lock:
            stale = time.monotonic() - self._keys_at > JWKS_REFRESH_SECONDS
            if self._keys is None or (refresh and stale):
                document = await self._get_json(metadata["jwks_uri"])
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise OidcProviderUnavailable(f"{self.name}'s keys are unusable.") from exc
                self._keys_at = time.monotonic()
            return self._keys

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        metadata = await self.metadata()
        # Building the URL needs no connection: Authlib's transport-free protocol client.
        protocol = OAuth2Protocol(
            None,
            client_id=self.config.client_id,
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )
        url, _ = protocol.create_authorization_url(
            metadata["authorization_endpoint"],
            state=state,
            code_verifier=code_verifier,
            nonce=nonce,
        )
        return str(url)

    async def exchange(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        """Trades the authorization code for tokens and returns who the verified ID token names.
        Refusals by the provider and tokens that fail any check are `OidcSignInFailed`."""
        metadata = await self.metadata()
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
        except OAuthError as exc:
            raise OidcSignInFailed(f"{self.name} refused the sign-in ({exc.error}).") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcProviderUnavailable(f"{self.name} did not exchange the code.") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcSignInFailed(f"{self.name} sent no ID token.")
        claims = await self._verified_claims(id_token, nonce, token.get("access_token"))
        return _identity(claims)

    async def _verified_claims(
        self, id_token: str, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in ID_TOKEN_ALGORITHMS if a in offered]
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except InvalidKeyIdError:
                # The provider may have rotated its keys since we fetched them.
                keys = await self._key_set(refresh=True)
                decoded = jwt.decode(id_token, keys, algorithms=algorithms)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": self.config.issuer},
                    "aud": {"essential": True, "value": self.config.client_id},
                    "sub": {"essential": True},
                    "nonce": {"essential": True},
                },
                {"nonce": nonce, "client_id": self.config.client_id, "access_token": access_token},
            )
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise OidcSignInFailed(f"{self.name}'s ID token is not valid ({exc}).") from exc
        return dict(claims)


def _identity(claims: dict[str, Any]) -> ProviderIdentity:
    subject = claims["sub"]
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
        raise OidcSignInFailed("The ID token's subject is not usable.")
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        email = None
    # Some providers send booleans as strings.
    verified = claims.get("email_verified") in (True, "true")
    name = next(
        (
            v.strip()
            for v in (claims.get("name"), claims.get("given_name"))
            if isinstance(v, str) and v.strip()
        ),
        None,
    )
    return ProviderIdentity(
        subject=subject, email=email, email_verified=email is not None and verified, name=name
    )


class OidcProviders:
    """The configured providers, by name, and where they may send people back to."""

    def __init__(self, configs: Iterable[OidcProviderConfig], *, public_base_url: str) -> None:
        self._providers = {c.name: OidcProvider(c) for c in configs}
        self._public_base = urlsplit(public_base_url.rstrip("/"))

    @classmethod
    def from_settings(cls, settings: OidcSettings, *, public_base_url: str) -> OidcProviders:
        return cls(settings.configured(), public_base_url=public_base_url)

    def names(self) -> list[str]:
        return sorted(self._providers)

    def get(self, name: str) -> OidcProvider | None:
        return self._providers.get(name)

    def redirect_allowed(self, provider: OidcProvider, redirect_uri: str) -> bool:
        """Only to this app (its public URL, by scheme, host, port and path prefix) or to an
        address configured for the provider: a code must never be sent to a stranger."""
        if redirect_uri in provider.config.redirect_uris:
            return True
        target, base = urlsplit(redirect_uri), self._public_base
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            return False
        base_path = base.path.rstrip("/")
        return target.path == base_path or target.path.startswith(base_path + "/")


def new_flow_secrets() -> tuple[str, str, str]:
    """A state, a nonce and a PKCE code verifier (RFC 7636: 43 to 128 characters)."""
    return generate_token(43), generate_token(43), generate_token(64)

"""Access tokens: ES256 JWTs any service can verify through `/.well-known/jwks.json`.

ES256 rather than EdDSA: measured here it verifies about twice as fast in Python, and every
request verifies one. Verified tokens are cached until they expire, but the revocation check
runs on every request, cached or not.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from redis.asyncio import Redis

from mindspace.identity.errors import InvalidToken
from mindspace.platform import ids
from mindspace.platform.security import Principal, Role

ACCESS_TOKEN_TTL_S = 15 * 60
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 media type, not a secret
ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict[str, str]:
        numbers = self.public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "alg": ALGORITHM,
            "use": "sig",
            "kid": self.kid,
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_from_pem(pem: bytes) -> SigningKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("JWT signing keys must be P-256 EC private keys (ES256)")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The kid is derived from the public key, so the same key always has the same kid.
    return SigningKey(kid=hashlib.sha256(der).hexdigest()[:16], private_key=key)


def generate_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def development_keys(directory: Path) -> list[SigningKey]:
    """Keys kept under the data folder so a developer's tokens survive a restart."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "jwt-es256.pem"
    if not path.exists():
        path.write_bytes(generate_pem())
        path.chmod(0o600)
    return [key_from_pem(path.read_bytes())]


class Revocations(Protocol):
    """Sessions whose access tokens must stop working before they expire."""

    async def revoke(self, session_id: uuid.UUID) -> None: ...

    async def is_revoked(self, session_id: uuid.UUID) -> bool: ...


class MemoryRevocations:
    """One process only, like every in-memory fallback (no REDIS_URL)."""

    def __init__(self) -> None:
        self._until: dict[uuid.UUID, float] = {}

    async def revoke(self, session_id: uuid.UUID) -> None:
        now = time.monotonic()
        self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[session_id] = now + ACCESS_TOKEN_TTL_S

    async def is_revoked(self, session_id: uuid.UUID) -> bool:
        until = self._until.get(session_id)
        return until is not None and until > time.monotonic()


class RedisRevocations:
    """Shared by every API process; entries expire with the last token they could stop."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def revoke(self, session_id: uuid.UUID) -> None:
        await self._redis.set(f"mindspace:revoked:{session_id}", b"1", ex=ACCESS_TOKEN_TTL_S)

    async def is_revoked(self, session_id: uuid.UUID) -> bool:
        return bool(await self._redis.exists(f"mindspace:revoked:{session_id}"))


class TokenService:
    def __init__(
        self,
        keys: list[SigningKey],
        *,
        issuer: str,
        audience: str,
        revocations: Revocations,
        cache_size: int = 10_000,
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.signing_key = keys[0]
        # Older keys stay here, verify-only, until every token they signed has expired.
        self._public = {k.kid: k.public_key for k in keys}
        self._jwks = {"keys": [k.jwk() for k in keys]}
        self.issuer = issuer
        self.audience = audience
        self.revocations = revocations
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._cache_size = cache_size

    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def issue(self, principal: Principal) -> tuple[str, int]:
        if principal.session_id is None:
            raise ValueError("an access token belongs to a session")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": ids.encode("usr", principal.user_id),
            "sid": str(principal.session_id),
            "roles": sorted(r.value for r in principal.roles),
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_TTL_S,
            "jti": secrets.token_urlsafe(12),
        }
        token = jwt.encode(
            claims,
            self.signing_key.private_key,
            algorithm=ALGORITHM,
            headers={"kid": self.signing_key.kid, "typ": ACCESS_TOKEN_TYPE},
        )
        return token, ACCESS_TOKEN_TTL_S

    def verify(self, token: str) -> Principal:
        """Signature, algorithm, type, issuer, audience and lifetime; raises InvalidToken."""
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None:
            principal, expires = cached
            if expires > now:
                return principal
            self._cache.pop(token, None)
        try:
            header = jwt.get_unverified_header(token)
            # Only our algorithm and only our keys: never a key or key URL from the token.
            if header.get("alg") != ALGORITHM or header.get("typ") != ACCESS_TOKEN_TYPE:
                raise InvalidToken()
            if {"jwk", "jku", "x5u", "x5c"} & header.keys():
                raise InvalidToken()
            key = self._public.get(str(header.get("kid")))
            if key is None:
                raise InvalidToken()
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
            )
            principal = Principal(
                user_id=ids.decode("usr", claims["sub"]),
                roles=frozenset(Role(r) for r in claims.get("roles", [])),
                session_id=uuid.UUID(claims["sid"]),
            )
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            raise InvalidToken() from None
        self._remember(token, principal, float(claims["exp"]))
        return principal

    def _remember(self, token: str, principal: Principal, expires: float) -> None:
        self._cache[token] = (principal, expires)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def authenticate(self, token: str) -> Principal:
        principal = self.verify(token)
        if principal.session_id and await self.revocations.is_revoked(principal.session_id):
            raise InvalidToken("This session has ended. Sign in again.")
        return principal


def new_refresh_token() -> tuple[str, bytes]:
    """An opaque token (256 bits) and the hash we store of it."""
    token = "rt_" + secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()

"""Access tokens that must never be accepted, and the verification cache's limits.

Every forged token here is built from the claims of a real, valid one, so it fails only for the
one reason its test names; `test_the_forging_kit_makes_tokens_we_accept` keeps that honest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mindspace.identity.errors import InvalidToken
from mindspace.identity.tokens import (
    ACCESS_TOKEN_TYPE,
    MemoryRevocations,
    TokenService,
    generate_pem,
    key_from_pem,
)
from mindspace.platform import ids
from mindspace.platform.db import Database
from mindspace.platform.ids import new_id
from mindspace.platform.security import Principal, Role
from tests.conftest import Person, assert_problem
from tests.identity.conftest import sign_in_device

pytestmark = pytest.mark.asyncio

ME = "/api/v1/users/me"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def fresh_claims(person: Person, **changes: Any) -> dict[str, Any]:
    """The claims of the person's real token, re-timed to now, with `changes` applied."""
    now = int(time.time())
    claims = {**claims_of(person.token), "iat": now, "nbf": now, "exp": now + 600}
    claims.update(changes)
    return claims


def sign(
    claims: dict[str, Any],
    key: ec.EllipticCurvePrivateKey,
    *,
    kid: str,
    **headers: Any,
) -> str:
    return jwt.encode(
        claims, key, algorithm="ES256", headers={"kid": kid, "typ": ACCESS_TOKEN_TYPE, **headers}
    )


def our(tokens: TokenService) -> tuple[ec.EllipticCurvePrivateKey, str]:
    return tokens.signing_key.private_key, tokens.signing_key.kid


def public_pem(tokens: TokenService) -> bytes:
    return tokens.signing_key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def attacker_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return jwk


async def assert_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "invalid-token")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_forging_kit_makes_tokens_we_accept(
    client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    key, kid = our(tokens)
    response = await client.get(
        ME, headers={"Authorization": f"Bearer {sign(fresh_claims(user), key, kid=kid)}"}
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person, alg: str
) -> None:
    header = {"alg": alg, "typ": ACCESS_TOKEN_TYPE, "kid": tokens.signing_key.kid}
    unsigned = f"{segment(header)}.{segment(fresh_claims(user))}"
    await assert_refused(client, unsigned + ".")
    # Some libraries accept the real signature alongside alg none: ours must not.
    real_signature = user.token.rsplit(".", 1)[1]
    await assert_refused(client, f"{unsigned}.{real_signature}")


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person, alg: str
) -> None:
    # Key confusion: a verifier that lets the token pick the algorithm would check this HMAC
    # with the public key (which anyone can fetch) as the secret.
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = {"alg": alg, "typ": ACCESS_TOKEN_TYPE, "kid": tokens.signing_key.kid}
    signing_input = f"{segment(header)}.{segment(fresh_claims(user))}"
    for secret in (public_pem(tokens), public_pem(tokens).strip()):
        mac = hmac.new(secret, signing_input.encode(), digest).digest()
        await assert_refused(client, f"{signing_input}.{b64url(mac)}")


async def test_an_unknown_kid_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    key, _ = our(tokens)
    for kid in ("unknown-key", "", "../../keys/jwt-es256.pem"):
        await assert_refused(client, sign(fresh_claims(user), key, kid=kid))
    # Correctly signed, but no kid at all.
    no_kid = jwt.encode(
        fresh_claims(user), key, algorithm="ES256", headers={"typ": ACCESS_TOKEN_TYPE}
    )
    await assert_refused(client, no_kid)


@pytest.mark.parametrize("header", ["jwk", "jku", "x5u", "x5c"])
async def test_keys_named_by_the_token_are_never_used(
    client: httpx.AsyncClient, tokens: TokenService, user: Person, header: str
) -> None:
    attacker = attacker_key()
    values: dict[str, Any] = {
        "jwk": public_jwk(attacker),
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIBfake"],
    }
    claims = fresh_claims(user)
    # Signed by the attacker's key, pointing at it...
    await assert_refused(
        client, sign(claims, attacker, kid=tokens.signing_key.kid, **{header: values[header]})
    )
    # ...and even signed by our own key: the header alone is reason enough.
    key, kid = our(tokens)
    await assert_refused(client, sign(claims, key, kid=kid, **{header: values[header]}))


async def test_a_token_signed_by_another_p256_key_with_our_kid_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    await assert_refused(
        client, sign(fresh_claims(user), attacker_key(), kid=tokens.signing_key.kid)
    )


async def test_a_tampered_payload_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    header, _, signature = user.token.split(".")
    promoted = segment(fresh_claims(user, roles=["admin", "member"]))
    await assert_refused(client, f"{header}.{promoted}.{signature}")


async def test_an_expired_token_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    key, kid = our(tokens)
    past = int(time.time()) - 3600
    expired = fresh_claims(user, iat=past, nbf=past, exp=past + 900)
    await assert_refused(client, sign(expired, key, kid=kid))


async def test_a_token_not_yet_valid_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person
) -> None:
    key, kid = our(tokens)
    later = int(time.time()) + 3600
    await assert_refused(client, sign(fresh_claims(user, nbf=later, exp=later + 900), key, kid=kid))


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "another-api"},
        {"aud": ["another-api"]},
        {"iss": "https://attacker.example"},
        {"sub": "ses_01JD8X4V2Q0000000000000000"},
        {"sid": "not-a-uuid"},
        {"roles": ["wizard"]},
    ],
    ids=["aud", "aud-list", "iss", "sub-wrong-kind", "sid", "unknown-role"],
)
async def test_wrong_claims_are_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person, changes: dict[str, Any]
) -> None:
    key, kid = our(tokens)
    await assert_refused(client, sign(fresh_claims(user, **changes), key, kid=kid))


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "sid", "iss", "aud"])
async def test_a_missing_required_claim_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person, claim: str
) -> None:
    key, kid = our(tokens)
    claims = fresh_claims(user)
    del claims[claim]
    await assert_refused(client, sign(claims, key, kid=kid))


@pytest.mark.parametrize("typ", ["JWT", "rt+jwt", None])
async def test_a_token_of_another_type_is_refused(
    client: httpx.AsyncClient, tokens: TokenService, user: Person, typ: str | None
) -> None:
    key, kid = our(tokens)
    headers: dict[str, Any] = {"kid": kid}
    if typ is not None:
        headers["typ"] = typ
    token = jwt.encode(fresh_claims(user), key, algorithm="ES256", headers=headers)
    if typ is None:
        assert "typ" not in jwt.get_unverified_header(token) or (
            jwt.get_unverified_header(token)["typ"] != ACCESS_TOKEN_TYPE
        )
    await assert_refused(client, token)


async def test_a_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, user: Person
) -> None:
    device = await sign_in_device(db, tokens, user)
    assert device.refresh_token.startswith("rt_")
    await assert_refused(client, device.refresh_token)


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "..", "e30.e30.", "eyJhbGciOiJFUzI1NiJ9", "x" * 4000, "Bearer abc"],
)
async def test_garbage_is_refused(client: httpx.AsyncClient, user: Person, token: str) -> None:
    await assert_refused(client, token)


# --- the verification cache -----------------------------------------------------------------

Decode = Callable[..., dict[str, Any]]


def make_tokens() -> TokenService:
    return TokenService(
        [key_from_pem(generate_pem())],
        issuer="https://issuer.test",
        audience="test-api",
        revocations=MemoryRevocations(),
    )


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real: Decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return calls


async def test_verify_caches_and_revocation_still_applies_to_cached_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = make_tokens()
    session_id = new_id()
    principal = Principal(user_id=new_id(), roles=frozenset({Role.member}), session_id=session_id)
    token, _ = tokens.issue(principal)
    decodes = count_decodes(monkeypatch)

    assert tokens.verify(token) == principal
    assert tokens.verify(token) == principal
    assert await tokens.authenticate(token) == principal
    assert decodes == [token]  # verified once, then served from the cache

    await tokens.revocations.revoke(session_id)
    assert tokens.verify(token) == principal  # still cached: the signature has not changed...
    with pytest.raises(InvalidToken):
        await tokens.authenticate(token)  # ...but the session has ended
    assert decodes == [token]


async def test_revoking_one_session_leaves_others_of_the_same_person() -> None:
    tokens = make_tokens()
    user_id = new_id()
    phone = Principal(user_id=user_id, session_id=new_id())
    laptop = Principal(user_id=user_id, session_id=new_id())
    phone_token, _ = tokens.issue(phone)
    laptop_token, _ = tokens.issue(laptop)
    assert phone.session_id is not None

    await tokens.revocations.revoke(phone.session_id)
    with pytest.raises(InvalidToken):
        await tokens.authenticate(phone_token)
    assert await tokens.authenticate(laptop_token) == laptop


async def test_a_cached_token_is_verified_afresh_once_it_has_expired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = make_tokens()
    token, ttl = tokens.issue(Principal(user_id=new_id(), session_id=new_id()))
    decodes = count_decodes(monkeypatch)
    tokens.verify(token)
    tokens.verify(token)
    assert len(decodes) == 1
    # The cache's clock only: PyJWT's own clock still says the token is valid, so the second
    # decode shows the cache stopped serving it.
    later = time.time() + ttl + 1
    monkeypatch.setattr(time, "time", lambda: later)
    tokens.verify(token)
    assert len(decodes) == 2


async def test_a_token_from_another_service_key_is_refused_by_ours() -> None:
    ours, theirs = make_tokens(), make_tokens()
    token, _ = theirs.issue(Principal(user_id=new_id(), session_id=new_id()))
    with pytest.raises(InvalidToken):
        ours.verify(token)


async def test_issue_names_the_user_with_a_public_id() -> None:
    tokens = make_tokens()
    user_id = uuid.UUID(int=new_id().int)
    token, ttl = tokens.issue(Principal(user_id=user_id, session_id=new_id()))
    assert claims_of(token)["sub"] == ids.encode("usr", user_id)
    assert ttl == 15 * 60
    with pytest.raises(ValueError, match="session"):
        tokens.issue(Principal(user_id=user_id))


async def test_a_rotated_out_key_still_verifies_until_its_tokens_expire() -> None:
    old_key, new_key = key_from_pem(generate_pem()), key_from_pem(generate_pem())
    before = TokenService(
        [old_key], issuer="https://i", audience="a", revocations=MemoryRevocations()
    )
    after = TokenService(
        [new_key, old_key], issuer="https://i", audience="a", revocations=MemoryRevocations()
    )
    principal = Principal(user_id=new_id(), session_id=new_id())
    issued_before, _ = before.issue(principal)
    issued_after, _ = after.issue(principal)

    assert after.verify(issued_before) == principal
    assert jwt.get_unverified_header(issued_after)["kid"] == new_key.kid
    assert {k["kid"] for k in after.jwks()["keys"]} == {old_key.kid, new_key.kid}
    with pytest.raises(InvalidToken):  # the old service never knew the new key
        before.verify(issued_after)

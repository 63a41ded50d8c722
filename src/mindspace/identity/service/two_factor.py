"""Optional TOTP two-factor authentication (RFC 6238) with one-time recovery codes.

The TOTP secret is shown once, at setup, and stored only encrypted (AES-GCM, bound to its
owner). A code is accepted one time step either side of now, and only once: the last accepted
time step is stored, so a code seen over someone's shoulder is already spent.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import secrets
import uuid

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity, repository
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import (
    InvalidTwoFactorCode,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorNotPending,
    UserNotFound,
)
from mindspace.identity.models import RecoveryCode, TotpCredential, UserAccount
from mindspace.identity.schemas import RecoveryCodes, TwoFactorSetup, TwoFactorStatus
from mindspace.platform import messaging
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.ids import new_id
from mindspace.platform.security import Principal

log = logging.getLogger(__name__)
ISSUER = "Mindspace"
RECOVERY_CODE_COUNT = 10
# Crockford's base32 alphabet (no i, l, o, u): 16 characters carry 80 random bits.
_RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_LENGTH = 16
_VALID_WINDOW = 1  # time steps either side of now: clocks drift, people type slowly


class SecretBox:
    """AES-256-GCM under a key derived (HKDF-SHA256) from the app's secret key. Each sealed
    value is bound to associated data (its owner's id), so a ciphertext copied onto another
    row does not open."""

    _VERSION = b"\x01"  # room to rotate the derivation without guessing at old rows

    def __init__(self, secret_key: str, *, purpose: bytes = b"mindspace/identity/totp/v1"):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            secret_key.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, bound_to: bytes) -> bytes:
        nonce = os.urandom(12)
        return self._VERSION + nonce + self._aead.encrypt(nonce, plaintext, bound_to)

    def open(self, sealed: bytes, *, bound_to: bytes) -> bytes:
        """Raises ValueError when the value was tampered with, moved, or sealed by another key."""
        if sealed[:1] != self._VERSION:
            raise ValueError("unknown sealed-value version")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], bound_to)
        except InvalidTag:
            raise ValueError("sealed value does not open") from None


class SecondFactor(enum.Enum):
    not_enabled = enum.auto()
    missing = enum.auto()
    valid = enum.auto()
    invalid = enum.auto()


def normalise_recovery_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def hash_recovery_code(code: str) -> bytes:
    return hashlib.sha256(normalise_recovery_code(code).encode()).digest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


async def _credential(
    session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
) -> TotpCredential | None:
    stmt = select(TotpCredential).where(TotpCredential.owner_id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def _user(session: AsyncSession, principal: Principal) -> UserAccount:
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise UserNotFound()
    return user


def _totp(box: SecretBox, credential: TotpCredential) -> pyotp.TOTP:
    secret = box.open(credential.secret_ciphertext, bound_to=credential.owner_id.bytes)
    return pyotp.TOTP(secret.decode())


def _accept_totp(box: SecretBox, credential: TotpCredential, code: str) -> bool:
    """Checks the code and spends its time step. The credential must be locked FOR UPDATE, so
    two requests racing with the same code cannot both win."""
    try:
        totp = _totp(box, credential)
    except ValueError:
        # Sealed under another secret key (rotated without re-sealing): recovery codes still
        # work, and the person can set two-factor up again.
        log.error("a TOTP secret does not open", extra={"user_id": str(credential.owner_id)})
        return False
    now_step = totp.timecode(utc_now())
    last = credential.last_used_counter
    # Oldest first: when two steps match (they never should), spend the earlier one.
    for step in range(now_step - _VALID_WINDOW, now_step + _VALID_WINDOW + 1):
        if last is not None and step <= last:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            credential.last_used_counter = step
            return True
    return False


async def _replace_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.owner_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.add_all(
        RecoveryCode(id=new_id(), owner_id=user_id, code_hash=hash_recovery_code(code))
        for code in codes
    )
    await session.flush()
    return codes


async def _use_recovery_code(session: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    stmt = (
        update(RecoveryCode)
        .where(
            RecoveryCode.owner_id == user_id,
            RecoveryCode.code_hash == hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=func.now())
        .returning(RecoveryCode.id)
    )
    return (await session.execute(stmt)).first() is not None


async def check_second_factor(
    session: AsyncSession,
    box: SecretBox,
    user_id: uuid.UUID,
    *,
    totp_code: str | None,
    recovery_code: str | None,
) -> SecondFactor:
    """Whether the person has two-factor on and, if so, whether a valid code was given. A
    valid code is spent. For every sign-in method that should honour two-factor."""
    credential = await _credential(session, user_id, for_update=True)
    if credential is None or credential.confirmed_at is None:
        return SecondFactor.not_enabled
    if totp_code is None and recovery_code is None:
        return SecondFactor.missing
    if totp_code is not None and _accept_totp(box, credential, totp_code):
        await session.flush()
        return SecondFactor.valid
    if recovery_code is not None and await _use_recovery_code(session, user_id, recovery_code):
        return SecondFactor.valid
    return SecondFactor.invalid


async def get_two_factor_status(session: AsyncSession, principal: Principal) -> TwoFactorStatus:
    credential = await _credential(session, principal.user_id)
    remaining = 0
    if credential is not None and credential.confirmed_at is not None:
        remaining = (
            await session.execute(
                select(func.count()).where(
                    RecoveryCode.owner_id == principal.user_id, RecoveryCode.used_at.is_(None)
                )
            )
        ).scalar_one()
    return TwoFactorStatus(
        enabled=credential is not None and credential.confirmed_at is not None,
        pending=credential is not None and credential.confirmed_at is None,
        recovery_codes_remaining=remaining,
    )


async def begin_setup(
    session: AsyncSession, principal: Principal, box: SecretBox
) -> TwoFactorSetup:
    """A new secret, pending until `confirm_setup`. Starting again replaces a pending one."""
    user = await _user(session, principal)
    credential = await _credential(session, user.id, for_update=True)
    if credential is not None and credential.confirmed_at is not None:
        raise TwoFactorAlreadyEnabled("Turn two-factor off first to move it to a new device.")
    secret = pyotp.random_base32()
    sealed = box.seal(secret.encode(), bound_to=user.id.bytes)
    if credential is None:
        session.add(TotpCredential(id=new_id(), owner_id=user.id, secret_ciphertext=sealed))
    else:
        credential.secret_ciphertext = sealed
        credential.last_used_counter = None
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=user.email or user.display_name, issuer_name=ISSUER
    )
    return TwoFactorSetup(secret=secret, otpauth_uri=uri)


async def confirm_setup(
    session: AsyncSession, principal: Principal, box: SecretBox, *, code: str, origin: Origin
) -> RecoveryCodes:
    """Turns two-factor on once the person shows a code from their app; returns the recovery
    codes, which exist in the clear only in this answer."""
    user = await _user(session, principal)
    credential = await _credential(session, user.id, for_update=True)
    if credential is None:
        raise TwoFactorNotPending()
    if credential.confirmed_at is not None:
        raise TwoFactorAlreadyEnabled()
    if not _accept_totp(box, credential, code):
        raise InvalidTwoFactorCode("Check the time on your phone and try the newest code.")
    credential.confirmed_at = utc_now()
    codes = await _replace_recovery_codes(session, user.id)
    activity.record(session, user.id, ActivityKind.two_factor_enabled, origin=origin)
    _tell(user, session, "two_factor_enabled", "Two-factor authentication is on")
    return RecoveryCodes(recovery_codes=codes)


async def disable_two_factor(
    session: AsyncSession, principal: Principal, *, origin: Origin
) -> None:
    user = await _user(session, principal)
    credential = await _credential(session, user.id, for_update=True)
    if credential is None or credential.confirmed_at is None:
        raise TwoFactorNotEnabled()
    await session.delete(credential)
    await session.execute(delete(RecoveryCode).where(RecoveryCode.owner_id == user.id))
    activity.record(session, user.id, ActivityKind.two_factor_disabled, origin=origin)
    _tell(user, session, "two_factor_disabled", "Two-factor authentication is off")


async def regenerate_recovery_codes(session: AsyncSession, principal: Principal) -> RecoveryCodes:
    """New codes; every earlier code, used or not, stops working."""
    credential = await _credential(session, principal.user_id, for_update=True)
    if credential is None or credential.confirmed_at is None:
        raise TwoFactorNotEnabled()
    return RecoveryCodes(recovery_codes=await _replace_recovery_codes(session, principal.user_id))


def _tell(user: UserAccount, session: AsyncSession, purpose: str, subject: str) -> None:
    # Security changes are announced by email too: if someone else made them, the owner knows.
    if not user.email:
        return
    messaging.queue(
        session,
        channel=messaging.Channel.email,
        recipient=user.email,
        purpose=purpose,
        subject=subject,
        body=(
            f"{subject} for your Mindspace account.\n\n"
            "If this was not you, reset your password now and contact support."
        ),
        user_id=user.id,
    )

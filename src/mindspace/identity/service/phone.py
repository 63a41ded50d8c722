"""Phone sign-in and sign-up, and adding a phone to an account, by one-time codes sent by SMS.

- A code is 6 digits from the CSPRNG, good for CODE_LIFETIME, once, and for MAX_ATTEMPTS
  tries; asking for a new one retires the old. Only an HMAC of it is stored, keyed by the app's
  secret and bound to the phone, the purpose and (for verify_phone) the person, so a code from
  one flow never opens another.
- Every text costs money: one per RESEND_COOLDOWN per phone and purpose, and daily caps per
  phone and per IP, so nobody can run up the bill or flood a stranger's phone.
- Asking for a sign-in code answers the same whether or not the number has an account.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity import activity
from mindspace.identity.activity import ActivityKind
from mindspace.identity.errors import (
    InvalidCode,
    PhoneTaken,
    TwoFactorRequired,
    UserNotFound,
    WrongSecondFactor,
)
from mindspace.identity.models import PhoneOtp, UserAccount
from mindspace.identity.schemas import CodeSent, TokenPair, VerifiedPhone
from mindspace.identity.service import lockout
from mindspace.identity.service.accounts import (
    announce_new_account,
    ensure_may_sign_in,
    start_session,
)
from mindspace.identity.service.two_factor import SecondFactor, SecretBox, check_second_factor
from mindspace.identity.tokens import TokenService
from mindspace.platform import audit, messaging
from mindspace.platform.audit import Origin
from mindspace.platform.clock import utc_now
from mindspace.platform.errors import RateLimited
from mindspace.platform.ids import new_id
from mindspace.platform.ratelimit import RateLimiter
from mindspace.platform.security import Principal, Role

SIGN_IN = "sign_in"
VERIFY_PHONE = "verify_phone"
CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_COOLDOWN = timedelta(seconds=60)
DAILY_LIMIT_PER_PHONE = "10/day"
DAILY_LIMIT_PER_IP = "30/day"
NEW_ACCOUNT_NAME = "Friend"  # until they choose one; kinder than a blank or a number
CODE_SENT = (
    "If this number can receive texts, a code is on its way. It works for 10 minutes; "
    "ask again after a minute if it does not arrive."
)


@dataclass(frozen=True, slots=True)
class PhoneCodes:
    """What sending and checking codes needs from the process: the key the stored codes are
    hashed with, and the shared rate limiter."""

    secret: bytes
    limiter: RateLimiter


def _code_hash(
    secret: bytes, *, phone: str, purpose: str, user_id: uuid.UUID | None, code: str
) -> bytes:
    bound = "\x00".join(("phone-otp/v1", purpose, phone, str(user_id or ""), code))
    return hmac.new(secret, bound.encode(), hashlib.sha256).digest()


def _owner_filter(user_id: uuid.UUID | None) -> ColumnElement[bool]:
    return PhoneOtp.user_id.is_(None) if user_id is None else PhoneOtp.user_id == user_id


async def _send_code(
    session: AsyncSession,
    codes: PhoneCodes,
    *,
    phone: str,
    purpose: str,
    user_id: uuid.UUID | None,
    ip: str | None,
) -> CodeSent:
    # One request at a time per number and purpose, so parallel requests cannot all slip past
    # the cooldown check below and each send a text.
    lock_key = func.hashtextextended(f"phone-otp:{purpose}:{phone}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(lock_key)))
    now = utc_now()
    where = (PhoneOtp.phone == phone, PhoneOtp.purpose == purpose, _owner_filter(user_id))
    last_sent = (
        await session.execute(
            select(PhoneOtp.created_at).where(*where).order_by(PhoneOtp.created_at.desc()).limit(1)
        )
    ).scalar_one_or_none()
    if last_sent is not None and now - last_sent < RESEND_COOLDOWN:
        raise RateLimited(math.ceil((last_sent + RESEND_COOLDOWN - now).total_seconds()))
    # The IP first: a sender over its cap must not also use up the phone's allowance, which
    # would let one address keep a stranger from getting codes all day.
    await codes.limiter.hit(DAILY_LIMIT_PER_IP, "phone-code-ip", ip or "unknown")
    # Keyed (a plain hash of a phone number is reversed by trying them all): the limiter's
    # store holds no phone numbers.
    phone_key = hmac.new(codes.secret, phone.encode(), hashlib.sha256).hexdigest()[:32]
    await codes.limiter.hit(DAILY_LIMIT_PER_PHONE, "phone-code-phone", phone_key)

    await session.execute(delete(PhoneOtp).where(*where))  # the newest code is the only one
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        PhoneOtp(
            id=new_id(),
            phone=phone,
            purpose=purpose,
            user_id=user_id,
            code_hash=_code_hash(
                codes.secret, phone=phone, purpose=purpose, user_id=user_id, code=code
            ),
            attempts=0,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    messaging.queue(
        session,
        channel=messaging.Channel.sms,
        recipient=phone,
        purpose=f"otp_{purpose}",
        body=f"{code} is your Mindspace code. It expires in 10 minutes. "
        "Never share it: we will never ask you for it.",
        user_id=user_id,
    )
    await session.flush()
    return CodeSent(
        detail=CODE_SENT,
        expires_in=int(CODE_LIFETIME.total_seconds()),
        resend_after=int(RESEND_COOLDOWN.total_seconds()),
    )


async def _spend_code(
    session: AsyncSession,
    codes: PhoneCodes,
    *,
    phone: str,
    purpose: str,
    user_id: uuid.UUID | None,
    code: str,
) -> None:
    """Uses up the live code if `code` is it; otherwise counts a wrong try and raises
    InvalidCode (which commits, so the count holds)."""
    stmt = (
        select(PhoneOtp)
        .where(
            PhoneOtp.phone == phone,
            PhoneOtp.purpose == purpose,
            _owner_filter(user_id),
            PhoneOtp.expires_at > utc_now(),
            PhoneOtp.attempts < MAX_ATTEMPTS,
        )
        .order_by(PhoneOtp.created_at.desc())
        .limit(1)
        .with_for_update()  # two tries at once must not both read the same attempt count
    )
    live = (await session.execute(stmt)).scalar_one_or_none()
    expected = _code_hash(codes.secret, phone=phone, purpose=purpose, user_id=user_id, code=code)
    if live is None:
        raise InvalidCode("Ask for a new code.")
    if not hmac.compare_digest(live.code_hash, expected):
        live.attempts += 1
        await session.flush()
        left = MAX_ATTEMPTS - live.attempts
        raise InvalidCode(
            f"Check the code and try again ({left} tries left)." if left else "Ask for a new code."
        )
    await session.delete(live)
    await session.flush()


async def _find_by_phone(session: AsyncSession, phone: str) -> UserAccount | None:
    stmt = select(UserAccount).where(UserAccount.phone == phone)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _sign_up(session: AsyncSession, *, phone: str, origin: Origin) -> UserAccount | None:
    """A phone-only account; None if a concurrent request has just created one for `phone`."""
    user = UserAccount(
        id=new_id(),
        phone=phone,
        phone_verified_at=utc_now(),
        display_name=NEW_ACCOUNT_NAME,
        roles=[Role.member.value],
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        return None
    await session.refresh(user)  # server defaults (status, roles) for the session's token
    announce_new_account(session, user, origin, method="phone")
    return user


async def send_sign_in_code(
    session: AsyncSession, codes: PhoneCodes, *, phone: str, origin: Origin
) -> CodeSent:
    """Texts a sign-in code to `phone` (E.164). The number is not looked up: the answer, and
    the work done, are the same for a known and an unknown number."""
    return await _send_code(
        session, codes, phone=phone, purpose=SIGN_IN, user_id=None, ip=origin.ip
    )


async def sign_in_with_code(
    session: AsyncSession,
    tokens: TokenService,
    codes: PhoneCodes,
    box: SecretBox,
    *,
    phone: str,
    code: str,
    origin: Origin,
    totp_code: str | None = None,
    recovery_code: str | None = None,
) -> TokenPair:
    """Signs in the account that holds `phone`, creating a phone-only account if none does.
    An account with two-factor on needs its code as well, as with a password."""
    await _spend_code(session, codes, phone=phone, purpose=SIGN_IN, user_id=None, code=code)
    details: dict[str, Any] = {"method": "phone"}
    user = await _find_by_phone(session, phone)
    if user is None:
        user = await _sign_up(session, phone=phone, origin=origin)
        details["new_account"] = user is not None
        # Lost a race with another sign-up of this number: that account is the one to enter.
        user = user or await _find_by_phone(session, phone)
        if user is None:
            raise InvalidCode("Ask for a new code.")
    ensure_may_sign_in(user)
    second = await check_second_factor(
        session, box, user.id, totp_code=totp_code, recovery_code=recovery_code
    )
    # Missing: the request rolls back, so the same text code still works alongside the second.
    if second is SecondFactor.missing:
        raise TwoFactorRequired("Send totp_code (or recovery_code) with your phone and code.")
    if second is SecondFactor.invalid:
        await lockout.record_failure(session, user, origin=origin)
        raise WrongSecondFactor("That code is not right, or it was already used.")
    user.phone_verified_at = utc_now()
    # Holding the phone proves the person as a password would: it ends any password lock.
    await lockout.clear_lockout(session, user.id)
    details["two_factor"] = second is SecondFactor.valid
    activity.record(session, user.id, ActivityKind.signed_in, origin=origin, details=details)
    return await start_session(session, tokens, user, origin, stepped_up=True)


async def send_phone_change_code(
    session: AsyncSession,
    principal: Principal,
    codes: PhoneCodes,
    *,
    phone: str,
    origin: Origin,
) -> CodeSent:
    """Texts a code to a number the signed-in person wants on their account. Whether another
    account holds the number is only said once the code comes back (to its holder)."""
    return await _send_code(
        session, codes, phone=phone, purpose=VERIFY_PHONE, user_id=principal.user_id, ip=origin.ip
    )


async def confirm_phone_change(
    session: AsyncSession,
    principal: Principal,
    codes: PhoneCodes,
    *,
    phone: str,
    code: str,
    origin: Origin,
) -> VerifiedPhone:
    await _spend_code(
        session, codes, phone=phone, purpose=VERIFY_PHONE, user_id=principal.user_id, code=code
    )
    user = await session.get(UserAccount, principal.user_id)
    if user is None:
        raise UserNotFound()
    previous = user.phone
    user.phone = phone
    user.phone_verified_at = utc_now()
    try:
        # Another account's row is invisible here (row-level security): its unique index is
        # what says the number is taken.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise PhoneTaken("That number belongs to another account.") from None
    if previous != phone:
        activity.record(
            session,
            user.id,
            ActivityKind.phone_changed,
            origin=origin,
            details={"ending": phone[-2:], "had_phone": previous is not None},
        )
        audit.record(
            session,
            actor=principal,
            action="user.phone_changed",
            target_type="user",
            target_id=user.id,
            origin=origin,
        )
    return VerifiedPhone(phone=phone, phone_verified_at=user.phone_verified_at)

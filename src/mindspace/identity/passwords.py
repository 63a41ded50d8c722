"""Password hashing: argon2id at OWASP's parameters, always off the event loop."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP: argon2id, m=19 MiB, t=2, p=1. Raising these makes check_needs_rehash() upgrade hashes
# as people sign in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
# A real hash of a random password: verifying against it when an account does not exist costs
# the same time as a real check, so timing does not reveal which emails have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password-4f9c2a")

MIN_LENGTH = 8
MAX_LENGTH = 128

# Hashing is CPU-bound: more at once than the cores can run only queues threads, while each
# waiting request holds a database connection and starves the pool (measured: 503s at 64
# concurrent sign-ins). Sign-in flows take a slot before their first query.
_SLOTS = max(2, (os.cpu_count() or 1) * 2)
_slots: asyncio.Semaphore | None = None


@asynccontextmanager
async def hashing_slot() -> AsyncIterator[None]:
    global _slots
    if _slots is None:
        _slots = asyncio.Semaphore(_SLOTS)
    async with _slots:
        yield


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)

"""A cache of values that can be made again: on Redis when `REDIS_URL` is set (every API
process sees the same entries), in process memory otherwise (one process only, like every
in-memory fallback here).

A miss costs a recomputation, never a wrong answer, so a Redis that cannot be reached is logged
and read as a miss rather than failing the request (as the rate limiter lets requests through).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
_UNREACHABLE = (RedisError, ConnectionError, OSError, TimeoutError)


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None: ...


class MemoryCache:
    """Bounded: past `max_entries` the least recently used entry goes first."""

    def __init__(
        self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        self._entries[key] = (self._clock() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class RedisCache:
    """Shared by every API process; Redis expires each entry after its TTL."""

    def __init__(self, redis: Redis, *, prefix: str = "mindspace:cache:") -> None:
        self._redis = redis
        self.prefix = prefix

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(self.prefix + key)
        except _UNREACHABLE as exc:
            log.warning("cache store unreachable; a miss", extra={"error": repr(exc)})
            return None
        # A client made with decode_responses=True answers str.
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, *, ttl_s: int) -> None:
        try:
            await self._redis.set(self.prefix + key, value, ex=ttl_s)
        except _UNREACHABLE as exc:
            log.warning("cache store unreachable; not kept", extra={"error": repr(exc)})

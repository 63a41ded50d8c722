"""The cache of values that can be made again: in process memory, and on Redis shared by every
API process; an unreachable Redis reads as a miss instead of failing the request."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from mindspace.platform.cache import MemoryCache, RedisCache
from tests.conftest import redis_url

pytestmark = pytest.mark.asyncio
REDIS_URL = redis_url()
needs_redis = pytest.mark.skipif(
    REDIS_URL is None,
    reason="Redis is not reachable (set REDIS_URL or start it on 127.0.0.1:6379): "
    "the shared cache tests did NOT run",
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    cache = MemoryCache(clock=clock)
    await cache.set("a", b"1", ttl_s=60)
    clock.now += 59
    assert await cache.get("a") == b"1"
    clock.now += 1
    assert await cache.get("a") is None
    assert await cache.get("never set") is None


async def test_memory_drops_the_least_recently_used_past_its_bound() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", ttl_s=60)
    await cache.set("b", b"2", ttl_s=60)
    assert await cache.get("a") == b"1"  # now b is the least recently used
    await cache.set("c", b"3", ttl_s=60)
    assert [await cache.get(k) for k in ("a", "b", "c")] == [b"1", None, b"3"]


@pytest.mark.redis
@needs_redis
async def test_redis_entries_are_seen_by_every_process_and_expire() -> None:
    assert REDIS_URL is not None
    prefix = f"mindspace-test:cache:{uuid.uuid4().hex}:"
    first, second = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    try:
        assert await RedisCache(second, prefix=prefix).get("k") is None
        await RedisCache(first, prefix=prefix).set("k", b"value", ttl_s=120)
        assert await RedisCache(second, prefix=prefix).get("k") == b"value"
        assert 0 < await first.ttl(prefix + "k") <= 120
    finally:
        await first.delete(prefix + "k")
        await first.aclose()
        await second.aclose()


async def test_an_unreachable_redis_is_a_miss_not_an_error() -> None:
    # Port 1 refuses at once.
    redis = Redis.from_url("redis://127.0.0.1:1/0")
    try:
        cache = RedisCache(redis)
        await cache.set("k", b"value", ttl_s=60)
        assert await cache.get("k") is None
    finally:
        await redis.aclose()

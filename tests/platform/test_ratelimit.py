"""Rate limits, in process and on Redis (shared by every API process)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from mindspace.identity.tokens import RedisRevocations
from mindspace.platform.errors import RateLimited
from mindspace.platform.ratelimit import MemoryWindows, RateLimiter
from tests.conftest import redis_url

REDIS_URL = redis_url()
needs_redis = pytest.mark.skipif(
    REDIS_URL is None,
    reason="Redis is not reachable (set REDIS_URL or start it on 127.0.0.1:6379): "
    "the shared rate limit and revocation tests did NOT run",
)


@pytest_asyncio.fixture
async def redis_limiter() -> AsyncIterator[RateLimiter]:
    assert REDIS_URL is not None
    limiter = RateLimiter(REDIS_URL, key_prefix=f"mindspace-test:{uuid.uuid4().hex}")
    yield limiter
    await limiter.reset()
    await limiter.close()


@pytest.mark.asyncio
async def test_the_in_process_limiter_refuses_past_the_limit_with_a_retry_time() -> None:
    limiter = RateLimiter(None)
    for _ in range(3):
        await limiter.hit("3/minute", "login", "10.0.0.1")
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("3/minute", "login", "10.0.0.1")
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    await limiter.hit("3/minute", "login", "10.0.0.2")  # another client is unaffected


@pytest.mark.redis
@needs_redis
@pytest.mark.asyncio
async def test_two_limiters_on_one_redis_share_the_count(redis_limiter: RateLimiter) -> None:
    assert REDIS_URL is not None
    # A second process's limiter, same store and prefix: the limit holds across both.
    other = RateLimiter(REDIS_URL, key_prefix=redis_limiter.key_prefix)
    assert redis_limiter.backend == "redis"
    await redis_limiter.hit("2/minute", "otp", "10.0.0.9")
    await other.hit("2/minute", "otp", "10.0.0.9")
    with pytest.raises(RateLimited):
        await redis_limiter.hit("2/minute", "otp", "10.0.0.9")
    await other.close()


@pytest.mark.asyncio
async def test_an_unreachable_store_lets_requests_through() -> None:
    # Port 1 refuses at once: a Redis outage must not lock every person out of the product.
    limiter = RateLimiter("redis://127.0.0.1:1/0")
    await limiter.hit("1/minute", "login", "10.0.0.3")
    await limiter.hit("1/minute", "login", "10.0.0.3")
    await limiter.close()


@pytest.mark.redis
@needs_redis
@pytest.mark.asyncio
async def test_revocations_on_redis_are_seen_by_every_process() -> None:
    assert REDIS_URL is not None
    first, second = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    try:
        session_id = uuid.uuid4()
        assert not await RedisRevocations(second).is_revoked(session_id)
        await RedisRevocations(first).revoke(session_id)
        assert await RedisRevocations(second).is_revoked(session_id)
        assert 0 < await first.ttl(f"mindspace:revoked:{session_id}") <= 15 * 60
    finally:
        await first.aclose()
        await second.aclose()


def test_the_in_process_window_moves_with_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("mindspace.platform.ratelimit.time.monotonic", lambda: clock[0])
    windows = MemoryWindows(sweep_s=30.0)
    assert windows.hit("k", 2, 60.0) is None
    clock[0] += 20
    assert windows.hit("k", 2, 60.0) is None
    clock[0] += 10
    # Full: room again when the first hit, 30 s ago, leaves the 60 s window.
    assert windows.hit("k", 2, 60.0) == pytest.approx(30.0)
    clock[0] += 30
    assert windows.hit("k", 2, 60.0) is None  # the first left; a refusal counted nothing
    assert windows.hit("k", 2, 60.0) == pytest.approx(20.0)
    assert windows.hit("k", 2, 60.0, cost=3) == 60.0  # can never fit
    assert windows.hit("other", 2, 60.0) is None  # keys are counted apart


def test_the_in_process_windows_forget_idle_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr("mindspace.platform.ratelimit.time.monotonic", lambda: clock[0])
    windows = MemoryWindows(sweep_s=10.0)
    for n in range(1000):
        windows.hit(f"client-{n}", 5, 60.0)
    clock[0] += 61
    windows.hit("late", 5, 60.0)  # past the sweep time: the idle keys go

    assert list(windows._hits) == ["late"]

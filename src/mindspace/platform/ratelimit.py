"""Rate limits on Redis when `REDIS_URL` is set (shared by every API process), in process
memory otherwise (one process only: fine for a laptop, wrong behind a load balancer)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from mindspace.platform.errors import RateLimited

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, redis_url: str | None, *, key_prefix: str = "mindspace:rl") -> None:
        self.key_prefix = key_prefix
        storage: Storage
        # Our own pool, so shutdown can close it (limits' storage has no close of its own).
        self._pool = ConnectionPool.from_url(redis_url) if redis_url else None
        if redis_url:
            uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=key_prefix,
                connection_pool=self._pool,  # type: ignore[arg-type]  # typed too narrowly
            )
        else:
            storage = MemoryStorage()
        self.storage = storage
        self.backend = "redis" if redis_url else "memory"
        # A moving window counts exactly: a sliding-window estimate lets a burst that straddles
        # a window edge through, and these limits guard sign-in and SMS spend.
        self._strategy = MovingWindowRateLimiter(storage)

    async def hit(self, limit: str | RateLimitItem, *key: str, cost: int = 1) -> None:
        """Counts one attempt against `limit` for `key`; raises RateLimited when it is spent.

        If the shared store is unreachable the request goes through (and we log it): locking
        every person out of the product because Redis blinked is the worse failure here.
        """
        item = parse(limit) if isinstance(limit, str) else limit
        try:
            allowed = await self._strategy.hit(item, *key, cost=cost)
            if allowed:
                return
            stats = await self._strategy.get_window_stats(item, *key)
        except (RedisError, ConnectionError, OSError, TimeoutError) as exc:
            log.warning("rate limit store unreachable; allowing", extra={"error": str(exc)})
            return
        raise RateLimited(math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        await self.storage.reset()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def client_ip(request: Request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers (with --forwarded-allow-ips) rewrites client.
    return request.client.host if request.client else "unknown"


def rate_limit(
    limit: str, *, name: str, per: Literal["ip", "principal"] = "ip"
) -> Callable[[Request], Awaitable[None]]:
    """A route dependency: `dependencies=[Depends(rate_limit("5/minute", name="login"))]`."""
    item = parse(limit)

    async def dependency(request: Request) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        who = client_ip(request)
        if per == "principal":
            principal = getattr(request.state, "principal", None)
            who = str(principal.user_id) if principal else who
        await limiter.hit(item, name, who)

    return dependency

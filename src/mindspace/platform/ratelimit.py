"""Rate limits on Redis when `REDIS_URL` is set (shared by every API process), in process
memory otherwise (one process only: fine for a laptop, wrong behind a load balancer)."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from mindspace.platform.errors import RateLimited

log = logging.getLogger(__name__)


class MemoryWindows:
    """Moving windows in process memory: each key keeps the times of its hits in the window.

    Ours rather than limits' in-memory store, which re-scans every key after every hit, with
    a thread hop per key: with a few thousand clients seen in the last minute that cost about
    20 ms of event-loop CPU per sign-in (more than the argon2 hash, measured). Here a hit
    touches only its own key, and keys whose window has emptied are dropped in one sweep
    every `sweep_s`.
    """

    def __init__(self, *, sweep_s: float = 10.0) -> None:
        self._hits: dict[str, tuple[float, deque[float]]] = {}
        self._sweep_s = sweep_s
        self._next_sweep = time.monotonic() + sweep_s

    def hit(self, key: str, limit: int, window_s: float, cost: int = 1) -> float | None:
        """Records `cost` hits, or refuses them: the seconds until they would fit, else None."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        _, hits = self._hits.setdefault(key, (window_s, deque()))
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if cost > limit:
            return window_s
        if len(hits) + cost > limit:
            # The hit whose leaving the window makes room for `cost` more.
            return hits[len(hits) + cost - limit - 1] + window_s - now
        hits.extend([now] * cost)
        return None

    def _sweep(self, now: float) -> None:
        self._hits = {
            key: (window_s, hits)
            for key, (window_s, hits) in self._hits.items()
            if hits and hits[-1] > now - window_s
        }
        self._next_sweep = now + self._sweep_s

    def clear(self) -> None:
        self._hits.clear()


class RateLimiter:
    def __init__(self, redis_url: str | None, *, key_prefix: str = "mindspace:rl") -> None:
        self.key_prefix = key_prefix
        # Our own pool, so shutdown can close it (limits' storage has no close of its own).
        self._pool = ConnectionPool.from_url(redis_url) if redis_url else None
        self._storage: RedisStorage | None = None
        self._windows: MemoryWindows | MovingWindowRateLimiter
        if redis_url:
            uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            self._storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=key_prefix,
                connection_pool=self._pool,  # type: ignore[arg-type]  # typed too narrowly
            )
            # A moving window counts exactly: a sliding-window estimate lets a burst that
            # straddles a window edge through, and these limits guard sign-in and SMS spend.
            self._windows = MovingWindowRateLimiter(self._storage)
        else:
            self._windows = MemoryWindows()
        self.backend = "redis" if redis_url else "memory"

    async def hit(self, limit: str | RateLimitItem, *key: str, cost: int = 1) -> None:
        """Counts one attempt against `limit` for `key`; raises RateLimited when it is spent.

        If the shared store is unreachable the request goes through (and we log it): locking
        every person out of the product because Redis blinked is the worse failure here.
        """
        item = parse(limit) if isinstance(limit, str) else limit
        if isinstance(self._windows, MemoryWindows):
            wait = self._windows.hit(item.key_for(*key), item.amount, item.get_expiry(), cost)
            if wait is not None:
                raise RateLimited(math.ceil(wait))
            return
        try:
            allowed = await self._windows.hit(item, *key, cost=cost)
            if allowed:
                return
            stats = await self._windows.get_window_stats(item, *key)
        except (RedisError, ConnectionError, OSError, TimeoutError) as exc:
            log.warning("rate limit store unreachable; allowing", extra={"error": str(exc)})
            return
        raise RateLimited(math.ceil(stats.reset_time - time.time()))

    async def reset(self) -> None:
        if isinstance(self._windows, MemoryWindows):
            self._windows.clear()
        elif self._storage is not None:
            await self._storage.reset()

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

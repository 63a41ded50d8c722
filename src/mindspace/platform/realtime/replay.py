"""Per-person event streams: a sequence number on every event for a person, and the recent
events kept so a client that reconnects gets what it missed, in order.

A person's sequence only grows. A counter that is created (the first event, or the first
connection, or after Redis forgot an idle one) starts at the current Unix time in
milliseconds, so a recreated counter is always above every number handed out before it and a
client holding an old number is told to resync instead of being sent someone else's "next"
events.

What is kept: the last `ReplayWindow.events` events of each person, for at most
`ReplayWindow.seconds`. A client whose gap is not wholly inside that gets `resync` (reload
from the API) instead of a partial replay.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

# An idle person's counter outlives their log, so a reconnect within it can still be told
# "nothing was missed"; when it expires, the next one starts higher anyway (see above).
COUNTER_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class ReplayWindow:
    events: int = 500
    seconds: int = 24 * 3600


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one person, as kept for replay."""

    seq: int
    event: str
    data: dict[str, Any]
    at_ms: int

    def envelope(self) -> dict[str, Any]:
        """What the client receives: the sequence beside the domain's payload."""
        return {"seq": self.seq, "data": self.data}


@dataclass(frozen=True, slots=True)
class Missed:
    """The answer to "what happened after `last_seq`?": the events in order, or `resync`
    when they are not all kept any more. `current` is the person's latest sequence."""

    current: int
    events: tuple[Delivery, ...] = ()
    resync: bool = False


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def judge(
    current: int, last_seq: int | None, kept: list[Delivery], window: ReplayWindow, now_ms: int
) -> Missed:
    """`kept` holds the stored events after `last_seq`, oldest first."""
    if last_seq is None or last_seq == current:
        return Missed(current)
    complete = (
        last_seq < current
        and len(kept) == current - last_seq
        and kept[0].seq == last_seq + 1
        and kept[0].at_ms >= now_ms - window.seconds * 1000
    )
    return Missed(current, tuple(kept)) if complete else Missed(current, resync=True)


class UserStreams(Protocol):
    # True when `append` itself delivers the event to every process (Redis); otherwise the
    # caller emits it to the person's room.
    delivers: bool

    async def append(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> Delivery: ...

    async def missed(self, user_id: uuid.UUID, last_seq: int | None) -> Missed: ...


@dataclass
class _Stream:
    seq: int
    log: deque[Delivery]


@dataclass
class MemoryStreams:
    """One process only (no REDIS_URL), like every in-memory fallback."""

    window: ReplayWindow = field(default_factory=ReplayWindow)
    delivers: bool = False
    _streams: dict[uuid.UUID, _Stream] = field(default_factory=dict)

    def _stream(self, user_id: uuid.UUID) -> _Stream:
        stream = self._streams.get(user_id)
        if stream is None:
            stream = _Stream(_now_ms(), deque(maxlen=self.window.events))
            self._streams[user_id] = stream
        return stream

    async def append(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> Delivery:
        stream = self._stream(user_id)
        stream.seq += 1
        now = _now_ms()
        # Round-trip through JSON: the same payloads fail here as with Redis, and a caller
        # mutating its dict afterwards cannot change what is replayed.
        delivery = Delivery(stream.seq, event, orjson.loads(orjson.dumps(data)), now)
        stream.log.append(delivery)
        horizon = now - self.window.seconds * 1000
        while stream.log and stream.log[0].at_ms < horizon:
            stream.log.popleft()
        return delivery

    async def missed(self, user_id: uuid.UUID, last_seq: int | None) -> Missed:
        stream = self._stream(user_id)
        kept = [d for d in stream.log if last_seq is not None and d.seq > last_seq]
        return judge(stream.seq, last_seq, kept, self.window, _now_ms())


# Sequence, log and publication in one atomic step, so that every process receives a person's
# events in sequence order, whichever process emitted them.
# KEYS: counter, log. ARGV: start, at_ms, event (JSON), data (JSON), keep, log ttl ms,
# counter ttl ms, channel ('' for none), message head, message tail.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
local seq = string.format('%d', redis.call('INCR', KEYS[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], seq,
  '{"seq":' .. seq .. ',"at":' .. ARGV[2] .. ',"event":' .. ARGV[3] .. ',"data":' .. ARGV[4] .. '}')
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
redis.call('PEXPIRE', KEYS[2], ARGV[6])
if ARGV[8] ~= '' then
  local envelope = '{"seq":' .. seq .. ',"data":' .. ARGV[4] .. '}'
  redis.call('PUBLISH', ARGV[8], ARGV[9] .. envelope .. ARGV[10])
end
return seq
"""
# KEYS: counter, log. ARGV: start, counter ttl ms, last_seq ('' for none).
_MISSED = """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local current = redis.call('GET', KEYS[1])
if ARGV[3] == '' then return {current, {}} end
return {current, redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[3], '+inf')}
"""


class Frame(Protocol):
    """Wraps an event's client envelope into the message the Socket.IO processes expect on
    their channel: returns the text before and after the envelope."""

    def __call__(self, user_id: uuid.UUID, event: str) -> tuple[str, str]: ...


class RedisStreams:
    """Shared by every API and worker process."""

    def __init__(
        self,
        redis: Redis,
        *,
        key_prefix: str,
        window: ReplayWindow,
        channel: str = "",
        frame: Frame | None = None,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self.window = window
        self._channel = channel
        self._frame = frame
        self.delivers = bool(channel and frame)
        self._append = redis.register_script(_APPEND)
        self._missed = redis.register_script(_MISSED)

    def _keys(self, user_id: uuid.UUID) -> list[str]:
        # One hash slot per person ({…}), so the scripts also run on a Redis Cluster.
        return [f"{self._prefix}:{{{user_id}}}:seq", f"{self._prefix}:{{{user_id}}}:log"]

    async def append(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> Delivery:
        encoded = orjson.dumps(data)
        head, tail = self._frame(user_id, event) if self._frame else ("", "")
        now = _now_ms()
        seq = await self._append(
            keys=self._keys(user_id),
            args=[
                now,
                now,
                orjson.dumps(event),
                encoded,
                self.window.events,
                self.window.seconds * 1000,
                COUNTER_TTL_S * 1000,
                self._channel if self.delivers else "",
                head,
                tail,
            ],
        )
        return Delivery(int(seq), event, orjson.loads(encoded), now)

    async def missed(self, user_id: uuid.UUID, last_seq: int | None) -> Missed:
        current, entries = await self._missed(
            keys=self._keys(user_id),
            args=[_now_ms(), COUNTER_TTL_S * 1000, "" if last_seq is None else last_seq],
        )
        kept = []
        for raw in entries:
            entry = orjson.loads(raw)
            kept.append(Delivery(entry["seq"], entry["event"], entry["data"], entry["at"]))
        return judge(int(current), last_seq, kept, self.window, _now_ms())

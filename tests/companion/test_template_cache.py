"""The per-person cache of template answers, in process and on Redis, against a real local
model server whose requests are counted: a repeat of a template without free text is served
from the person's own cache (no model, no credit); one person's answer never reaches another;
free text never touches the cache; a new model, version, locale or input misses."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from redis.asyncio import Redis

from mindspace.companion import templates
from mindspace.companion.template_runs import cache_key
from mindspace.platform.cache import Cache, MemoryCache, RedisCache
from mindspace.platform.config import Settings
from tests.companion.conftest import (
    METHOD_REPLY,
    SAFE_REPLY,
    LedgerStandIn,
    ModelServer,
    run_template,
)
from tests.conftest import Person, redis_url

pytestmark = pytest.mark.asyncio
REDIS_URL = redis_url()
OTHER_REPLY = "Here is a gentle way to end the day: dim the lights and breathe slowly."
WORRY = "I keep worrying that my friends are tired of me"


@pytest_asyncio.fixture(
    params=[
        "memory",
        pytest.param(
            "redis",
            marks=[
                pytest.mark.redis,
                pytest.mark.skipif(REDIS_URL is None, reason="Redis is not reachable"),
            ],
        ),
    ]
)
async def answer_store(request: pytest.FixtureRequest, app: FastAPI) -> AsyncIterator[Cache]:
    """The app's cache for this test: a fresh one in memory, or on the real Redis."""
    if request.param == "memory":
        async with _cache_of(app, MemoryCache()) as store:
            yield store
        return
    assert REDIS_URL is not None
    redis = Redis.from_url(REDIS_URL)
    prefix = f"mindspace-test:{uuid.uuid4().hex}:"
    try:
        async with _cache_of(app, RedisCache(redis, prefix=prefix)) as store:
            yield store
    finally:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


@asynccontextmanager
async def _cache_of(app: FastAPI, store: Cache) -> AsyncIterator[Cache]:
    # Not monkeypatch: it restores only what lives in an instance's __dict__, and Starlette's
    # State keeps its attributes elsewhere, so the app would lose its cache afterwards.
    before = app.state.cache
    app.state.cache = store
    try:
        yield store
    finally:
        app.state.cache = before


async def test_a_repeat_comes_from_the_cache_without_the_model_or_a_credit(
    client: httpx.AsyncClient,
    user: Person,
    use_model: ModelServer,
    ledger: LedgerStandIn,
    answer_store: Cache,
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    ledger.balances[user.id] = 1
    first = await run_template(client, user, "bedtime_wind_down")
    assert (first["content"], first["cached"], len(use_model.bodies)) == (SAFE_REPLY, False, 1)
    assert len(ledger.debits) == 1
    # Out of credits now, yet the cached answer is theirs: no model, no reservation, no debit.
    again = await run_template(client, user, "bedtime_wind_down")
    assert again["cached"] is True
    assert (again["content"], again["engine"], again["out_of_credits"]) == (
        SAFE_REPLY,
        "openai",
        False,
    )
    assert len(use_model.bodies) == 1
    assert (ledger.reservations, len(ledger.debits)) == (1, 1)


async def test_another_input_of_the_same_template_misses(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, answer_store: Cache
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    await run_template(client, user, "thinking_trap", "labeling")
    assert (await run_template(client, user, "thinking_trap", "labeling"))["cached"] is True
    other = await run_template(client, user, "thinking_trap", "mind_reading")
    assert other["cached"] is False
    assert len(use_model.bodies) == 2


async def test_one_persons_cached_answer_never_reaches_another(
    client: httpx.AsyncClient,
    user: Person,
    other_user: Person,
    use_model: ModelServer,
    answer_store: Cache,
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    mine = await run_template(client, user, "self_care_ideas", "some")
    use_model.replies["chosen"] = OTHER_REPLY
    theirs = await run_template(client, other_user, "self_care_ideas", "some")
    assert (theirs["content"], theirs["cached"]) == (OTHER_REPLY, False)
    assert len(use_model.bodies) == 2
    again = await run_template(client, user, "self_care_ideas", "some")
    assert (again["content"], again["cached"]) == (mine["content"], True)
    assert len(use_model.bodies) == 2


async def test_free_text_templates_never_touch_the_cache(
    client: httpx.AsyncClient,
    user: Person,
    use_model: ModelServer,
    answer_store: Cache,
) -> None:
    use_model.replies["chosen"] = SAFE_REPLY
    for _ in range(2):
        answer = await run_template(client, user, "reframe_worry", WORRY)
        assert (answer["engine"], answer["cached"]) == ("openai", False)
    assert len(use_model.bodies) == 2
    template = templates.by_id()["reframe_worry"]
    key = cache_key(user.id, template, WORRY, locale="en", engine="openai", model="chosen")
    assert await answer_store.get(key) is None


async def test_a_withheld_answer_is_never_cached(
    client: httpx.AsyncClient, user: Person, use_model: ModelServer, answer_store: Cache
) -> None:
    use_model.replies["chosen"] = METHOD_REPLY
    first = await run_template(client, user, "gratitude_prompt")
    assert first["replaced"] is True
    use_model.replies["chosen"] = SAFE_REPLY
    second = await run_template(client, user, "gratitude_prompt")
    assert (second["content"], second["cached"]) == (SAFE_REPLY, False)
    assert len(use_model.bodies) == 2


async def test_another_model_misses(
    client: httpx.AsyncClient,
    user: Person,
    use_model: ModelServer,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
    answer_store: Cache,
) -> None:
    use_model.replies.update({"chosen": SAFE_REPLY, "newer": OTHER_REPLY})
    await run_template(client, user, "bedtime_wind_down")
    monkeypatch.setattr(settings_of, "companion_model", "newer")
    answer = await run_template(client, user, "bedtime_wind_down")
    assert (answer["content"], answer["cached"]) == (OTHER_REPLY, False)
    assert [b["model"] for b in use_model.bodies] == ["chosen", "newer"]


@pytest.mark.redis
@pytest.mark.skipif(REDIS_URL is None, reason="Redis is not reachable")
async def test_on_redis_one_entry_per_cacheable_request_expiring_after_the_setting(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: Person,
    use_model: ModelServer,
    settings_of: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert REDIS_URL is not None
    use_model.replies["chosen"] = SAFE_REPLY
    monkeypatch.setattr(settings_of, "companion_template_cache_ttl_s", 600)
    redis = Redis.from_url(REDIS_URL)
    prefix = f"mindspace-test:{uuid.uuid4().hex}:"
    try:
        async with _cache_of(app, RedisCache(redis, prefix=prefix)):
            await run_template(client, user, "reframe_worry", WORRY)
            await run_template(client, user, "bedtime_wind_down")
        [key] = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        assert key.decode().startswith(f"{prefix}companion:template:{user.id}:")
        assert 0 < await redis.ttl(key) <= 600
        await redis.delete(key)
    finally:
        await redis.aclose()


def _key(
    person: uuid.UUID,
    template: str = "thinking_trap",
    value: str = "labeling",
    *,
    version: int = 1,
    locale: str = "en",
    engine: str = "openai",
    model: str = "chosen",
) -> str:
    chosen = dataclasses.replace(templates.by_id()[template], version=version)
    return cache_key(person, chosen, value, locale=locale, engine=engine, model=model)


async def test_the_key_holds_the_person_and_everything_the_answer_depends_on() -> None:
    person = uuid.uuid4()
    key = _key(person)
    assert str(person) in key
    assert key == _key(person)
    variants = {
        _key(uuid.uuid4()),
        _key(person, "self_care_ideas"),
        _key(person, value="mind_reading"),
        _key(person, version=2),
        _key(person, locale="fr"),
        _key(person, engine="anthropic"),
        _key(person, model="newer"),
    }
    assert len(variants) == 7
    assert key not in variants

"""The pgvector path, for real. The service machine's PostgreSQL has no pgvector, but the
embedded server of `mindspace serve` (the pgserver wheel) ships it: this module starts one,
migrates it (the migration creates the extension where it is available), and shows that
ranking in PostgreSQL agrees with ranking in Python, for both embedders, and that row-level
security still keeps each person to their own memories."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from mindspace.app import create_app
from mindspace.companion import memories, repository
from mindspace.companion.memories import Embedders, Ranking
from mindspace.companion.memory import Embedder
from mindspace.platform import embedded, embeddings
from mindspace.platform.config import Settings
from mindspace.platform.crypto import Vault
from mindspace.platform.db import Database
from mindspace.platform.ids import decode
from mindspace.platform.migrate import run_upgrade_sync
from tests.companion.conftest import PREFERENCES
from tests.conftest import Person, create_user
from tests.journal.conftest import ENTRIES

pytestmark = pytest.mark.asyncio
WRITTEN = [
    "We planted tomatoes at the allotment with Bernadette.",
    "The allotment flooded after the storm and the shed leaks.",
    "Baked sourdough bread with rosemary for Florian.",
    "My manager Priya criticised my report at work again.",
    "Went swimming at the lido before breakfast; the water was cold.",
    "I feel anxious about money and the rent this month.",
    "Picked the first tomatoes and roasted them with garlic.",
    "Priya thanked me for the report, which surprised me.",
]
QUERIES = [
    "How are the tomatoes at the allotment doing?",
    "I'm worried about paying the bills",
    "work and my manager",
    "I want to go for a swim",
    "bread",
]
EMBEDDERS = [
    pytest.param(memories.HASHED, id="hashed"),
    pytest.param(
        memories.SENTENCES,
        id="minilm",
        marks=pytest.mark.skipif(not embeddings.extra_installed(), reason="needs the `ai` extra"),
    ),
]


@pytest.fixture(scope="module")
def vector_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, server = embedded.start(Path(tmp_path_factory.mktemp("pgvector")))
    run_upgrade_sync(url, app_role="mindspace_app", app_password=None)
    yield url
    server.cleanup()


@pytest_asyncio.fixture(scope="module")
async def vector_app(
    vector_database: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    overrides = {"database_url": vector_database, "data_dir": tmp_path_factory.mktemp("data")}
    application = create_app(settings.model_copy(update=overrides))
    async with LifespanManager(application):
        yield application


@pytest_asyncio.fixture(scope="module")
async def vector_client(vector_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=vector_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _person_with_memories(
    app: FastAPI, client: httpx.AsyncClient, embedders: Embedders, written: list[str]
) -> Person:
    """Someone who allows journal memory and wrote `written`, each entry remembered by the
    job's own body (the worker's relay is not what is under test here)."""
    db: Database = app.state.db
    person = await create_user(db, app.state.tokens)
    privacy = {"allow_ai_memory": True, "allow_journal_memory": True}
    response = await client.patch(PREFERENCES, json={"privacy": privacy}, headers=person.headers)
    assert response.status_code == 200, response.text
    for words in written:
        body = {"title": "", "body": f"<p>{words}</p>"}
        response = await client.post(ENTRIES, json=body, headers=person.headers)
        assert response.status_code == 201, response.text
        entry_id = decode("jrn", response.json()["id"])
        assert await memories.remember_journal_entry(
            db, app.state.vault, embedders, entry_id=entry_id, owner_id=person.id
        )
    return person


async def test_the_migration_created_the_extension(vector_database: str) -> None:
    engine = create_async_engine(make_url(vector_database).set(drivername="postgresql+asyncpg"))
    async with engine.connect() as conn:
        version = await conn.scalar(
            text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        )
    await engine.dispose()
    assert version is not None


# pgvector computes in single precision, Python in double: scores this close may fall either
# way of a tie or of the threshold, and nothing else may differ.
PRECISION = 1e-5


async def _scores(
    session: AsyncSession, person: Person, embedder: Embedder, query: list[float]
) -> dict[uuid.UUID, float]:
    rows = await repository.memory_vectors(
        session, person.principal, embedder=embedder.name, journal=True, limit=memories.SCANNED
    )
    return {row.id: float(np.dot(row.embedding, query)) for row in rows}


def _same_ranking(
    in_postgres: list[uuid.UUID],
    in_python: list[uuid.UUID],
    scores: dict[uuid.UUID, float],
    threshold: float,
) -> None:
    """The same memories above the threshold, each list best first."""
    on_the_line = {i for i, score in scores.items() if abs(score - threshold) < PRECISION}
    assert set(in_postgres) ^ set(in_python) <= on_the_line
    for ranked in (in_postgres, in_python):
        for earlier, later in itertools.pairwise(ranked):
            assert scores[earlier] >= scores[later] - PRECISION


@pytest.mark.parametrize("embedders", EMBEDDERS)
async def test_ranking_in_postgresql_agrees_with_python(
    vector_app: FastAPI, vector_client: httpx.AsyncClient, embedders: Embedders
) -> None:
    person = await _person_with_memories(vector_app, vector_client, embedders, WRITTEN)
    db: Database = vector_app.state.db
    vault: Vault = vector_app.state.vault
    async with db.session(person.principal) as session:
        assert await repository.has_pgvector(session)
        key = await vault.data_key(session, person.id)
        embedder = embedders(key)
        found = 0
        for query in QUERIES:
            vector = embedder.embed(query)
            in_postgres = await memories.nearest(
                session, person.principal, embedder, vector, ranking=Ranking.pgvector
            )
            in_python = await memories.nearest(
                session, person.principal, embedder, vector, ranking=Ranking.python
            )
            scores = await _scores(session, person, embedder, vector)
            _same_ranking(in_postgres, in_python, scores, embedder.threshold)
            found += len(in_python)
            # Journal memories left out (their permission just withdrawn): both agree on none.
            for ranking in Ranking:
                assert not await memories.nearest(
                    session, person.principal, embedder, vector, ranking=ranking, journal=False
                )
            recalled = await memories.recall(session, person.principal, key, embedders, text_=query)
            assert recalled.ranking is Ranking.pgvector
        assert found > 0

        recalled = await memories.recall(
            session, person.principal, key, embedders, text_=QUERIES[0]
        )
    assert "tomatoes" in recalled.summaries[0]
    assert any("Bernadette" in s for s in recalled.summaries)
    assert not any("Priya" in s or "sourdough" in s for s in recalled.summaries)


@pytest.mark.parametrize("embedders", EMBEDDERS)
async def test_row_level_security_keeps_each_to_their_own_vectors(
    vector_app: FastAPI, vector_client: httpx.AsyncClient, embedders: Embedders
) -> None:
    me = await _person_with_memories(vector_app, vector_client, embedders, WRITTEN[:4])
    them = await _person_with_memories(vector_app, vector_client, embedders, WRITTEN[:4])
    db: Database = vector_app.state.db
    vault: Vault = vector_app.state.vault
    async with db.session(me.principal) as session:
        key = await vault.data_key(session, me.id)
        embedder = embedders(key)
        query = embedder.embed(QUERIES[0])
        # A ranking that forgets the owner filter still sees only my rows.
        owners = (
            await session.execute(
                text(
                    "SELECT owner_id FROM companion_memory WHERE embedder = :embedder "
                    "ORDER BY CAST(embedding AS vector) "
                    "<=> CAST(CAST(:query AS double precision[]) AS vector)"
                ),
                {"embedder": embedder.name, "query": query},
            )
        ).scalars()
        assert set(owners) == {me.id}
        mine = await memories.nearest(
            session, me.principal, embedder, query, ranking=Ranking.pgvector
        )
        # Code that names the wrong person finds nothing either.
        named_them = await memories.nearest(
            session, them.principal, embedder, query, ranking=Ranking.pgvector
        )
        recalled = await memories.recall(session, me.principal, key, embedders, text_=QUERIES[0])
    assert len(mine) >= 1
    assert named_them == []
    assert recalled.summaries
    async with db.session(them.principal) as session:
        their_key = await vault.data_key(session, them.id)
        theirs = await memories.nearest(
            session,
            them.principal,
            embedders(their_key),
            embedders(their_key).embed(QUERIES[0]),
            ranking=Ranking.pgvector,
        )
    assert theirs
    assert not set(mine) & set(theirs)

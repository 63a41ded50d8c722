"""Liveness, readiness and metrics; and a database that is down answers 503 quickly, never a
500 and never a hang."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from mindspace.app import create_app
from mindspace.platform.config import Environment, Settings
from mindspace.platform.ids import encode, new_id
from mindspace.platform.migrate import head_revision
from mindspace.platform.security import Principal
from tests.conftest import Person, assert_problem

pytestmark = pytest.mark.asyncio

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nothing"
# Far below the 15 s statement timeout: a load balancer must hear "not ready" promptly.
PROMPT_S = 5.0


async def test_liveness_answers_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_reports_the_schema_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "database": "ok", "schema": head_revision()}


async def test_readiness_waits_for_the_warm_up(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Work the app does after start-up (the embedding model) holds traffic back until done."""
    loaded = asyncio.Event()
    loading = asyncio.create_task(loaded.wait())
    app.state.warm_up.append(loading)
    try:
        body = assert_problem(await client.get("/health/ready"), 503, "not-ready")
        assert "warming up" in body["detail"]
        loaded.set()
        await loading
        assert (await client.get("/health/ready")).status_code == 200
    finally:
        app.state.warm_up.remove(loading)


async def test_metrics_count_requests_by_route_template(
    client: httpx.AsyncClient, user: Person
) -> None:
    session_id = encode("ses", new_id())
    await client.get("/health/live")
    await client.get("/api/v1/users/me", headers=user.headers)
    await client.delete(f"/api/v1/auth/sessions/{session_id}", headers=user.headers)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "mindspace_http_requests_total" in text
    assert "mindspace_http_request_duration_seconds" in text
    assert 'route="/health/live"' in text
    # Labels are templates, not raw paths, so ids cannot blow up the series count.
    assert 'route="/api/v1/users/me"' in text
    assert 'route="/api/v1/auth/sessions/{session_id}"' in text
    assert session_id not in text


async def test_unmatched_paths_share_one_metrics_label(client: httpx.AsyncClient) -> None:
    await client.get(f"/no/such/{new_id()}")
    text = (await client.get("/metrics")).text
    assert 'route="<unmatched>"' in text
    assert "/no/such/" not in text


@pytest_asyncio.fixture
async def unreachable_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        environment=Environment.test,
        database_url=UNREACHABLE,
        redis_url=None,
        data_dir=tmp_path,
        seed_demo_data=False,
        embeddings="off",
    )
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest_asyncio.fixture
async def unreachable_client(unreachable_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=unreachable_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", timeout=PROMPT_S * 2
    ) as client:
        yield client


async def test_readiness_is_a_prompt_503_when_the_database_is_down(
    unreachable_client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await unreachable_client.get("/health/ready")
    assert time.monotonic() - started < PROMPT_S
    body = assert_problem(response, 503, "not-ready")
    assert response.headers["retry-after"].isdigit()
    assert "127.0.0.1" not in response.text  # no connection details for the world
    assert body["detail"]


async def test_liveness_stays_up_when_the_database_is_down(
    unreachable_client: httpx.AsyncClient,
) -> None:
    response = await unreachable_client.get("/health/live")
    assert response.status_code == 200


async def test_an_api_request_is_a_prompt_503_when_the_database_is_down(
    unreachable_app: FastAPI, unreachable_client: httpx.AsyncClient
) -> None:
    token, _ = unreachable_app.state.tokens.issue(Principal(user_id=new_id(), session_id=new_id()))
    started = time.monotonic()
    response = await unreachable_client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert time.monotonic() - started < PROMPT_S
    body = assert_problem(response, 503, "service-unavailable")
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert response.headers["retry-after"].isdigit()
    for leak in ("127.0.0.1", "asyncpg", "Connect", "Errno"):
        assert leak not in response.text


async def test_sign_in_is_a_prompt_503_when_the_database_is_down(
    unreachable_client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await unreachable_client.post(
        "/api/v1/auth/login", json={"email": "a@example.org", "password": "whatever it is"}
    )
    assert time.monotonic() - started < PROMPT_S
    assert_problem(response, 503, "service-unavailable")

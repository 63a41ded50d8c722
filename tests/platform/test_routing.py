"""The flat routing table: the same routes FastAPI's router tree would serve, one level deep."""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.routing import APIRoute
from starlette.routing import Match

from mindspace.app import API_PREFIX, DOMAINS, create_app
from mindspace.identity.api import well_known
from mindspace.platform.config import Settings
from mindspace.platform.routing import include_flat


async def _require_key(x_key: Annotated[str | None, Header()] = None) -> None:
    if x_key != "open":
        raise HTTPException(status_code=403, detail="no key")


def _tree() -> APIRouter:
    inner = APIRouter(prefix="/things", tags=["things"], responses={418: {"description": "Tea"}})

    @inner.get("/{thing_id}", status_code=203)
    async def get_thing(thing_id: int) -> dict[str, int]:
        """Reads one thing."""
        return {"id": thing_id}

    @inner.post("", dependencies=[Depends(_require_key)])
    async def add_thing() -> dict[str, str]:
        return {"added": "yes"}

    middle = APIRouter(prefix="/shop", dependencies=[Depends(_require_key)], tags=["shop"])
    middle.include_router(inner)
    outer = APIRouter(prefix="/api")
    outer.include_router(middle)
    return outer


def test_a_flattened_tree_documents_exactly_what_the_tree_does() -> None:
    nested, flat = FastAPI(), FastAPI()
    nested.include_router(_tree())
    include_flat(flat.router, _tree())

    assert flat.openapi() == nested.openapi()
    assert all(isinstance(route, APIRoute) for route in flat.router.routes[-2:])


@pytest.mark.asyncio
async def test_a_flattened_route_keeps_its_prefixes_status_and_router_dependencies() -> None:
    app = FastAPI()
    include_flat(app.router, _tree())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.get("/api/shop/things/7")
        served = await client.get("/api/shop/things/7", headers={"x-key": "open"})
        missing = await client.get("/shop/things/7", headers={"x-key": "open"})

    assert refused.status_code == 403  # the middle router's dependency still runs
    assert (served.status_code, served.json()) == (203, {"id": 7})
    assert missing.status_code == 404


def test_only_path_operations_are_flattened() -> None:
    router = APIRouter()

    @router.websocket("/socket")
    async def socket() -> None: ...

    with pytest.raises(TypeError, match="only path operations"):
        include_flat(APIRouter(), router)


def test_the_app_serves_every_domain_route_from_one_flat_table(settings: Settings) -> None:
    app = create_app(settings)
    reference = FastAPI()
    api = APIRouter(prefix=API_PREFIX)
    for domain in DOMAINS:
        if domain.router is not None:
            api.include_router(domain.router)
    reference.include_router(api)
    reference.include_router(well_known)

    assert app.openapi()["paths"] == reference.openapi()["paths"]
    api_routes = [r for r in app.router.routes if getattr(r, "path", "").startswith(API_PREFIX)]
    assert api_routes
    assert all(isinstance(route, APIRoute) for route in api_routes)


def test_every_flat_route_still_matches_its_own_paths(settings: Settings) -> None:
    """The literal-prefix check turns away only paths a route's regex would refuse too."""
    app = create_app(settings)
    api_routes = [r for r in app.router.routes if getattr(r, "path", "").startswith(API_PREFIX)]
    for route in api_routes:
        assert isinstance(route, APIRoute)
        path = re.sub(r"\{[^}]+\}", "x1", route.path_format)
        for root_path in ("", "/behind-a-proxy"):
            scope: dict[str, Any] = {
                "type": "http",
                "path": root_path + path,
                "root_path": root_path,
                "method": next(iter(route.methods or {"GET"})),
                "headers": [],
            }
            assert route.matches(scope)[0] is Match.FULL, (route.path, root_path)
        other = {"type": "http", "path": "/elsewhere" + path, "root_path": "", "method": "GET"}
        assert route.matches(other)[0] is Match.NONE

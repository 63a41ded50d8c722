"""Journal test helpers: entries made through the API (sealing is the thing under test)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mindspace.platform.crypto import Vault
from tests.conftest import Person

ENTRIES = "/api/v1/journal/entries"


@pytest.fixture
def vault(app: FastAPI) -> Vault:
    found: Vault = app.state.vault
    return found


async def write_entry(
    client: httpx.AsyncClient, person: Person, *, crisis: bool = False, **fields: Any
) -> dict[str, Any]:
    """The entry as answered, less `crisis`, which must be there exactly when asked for."""
    body = {"title": "A day", "body": "<p>Some words</p>", **fields}
    response = await client.post(ENTRIES, json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    # Only the answer to a save says whether the words call for crisis lines (test_crisis.py);
    # without it, an entry reads back exactly as it was answered.
    assert (created.pop("crisis") is not None) == crisis
    return created

"""Reminders test helpers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Person

REMINDERS = "/api/v1/reminders"
DAILY_20 = {"type": "daily", "time": "20:00"}


async def make_reminder(client: httpx.AsyncClient, person: Person, **fields: Any) -> dict[str, Any]:
    body = {"kind": "mood_checkin", "title": "Evening check-in", "schedule": DAILY_20, **fields}
    response = await client.post(REMINDERS, json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created

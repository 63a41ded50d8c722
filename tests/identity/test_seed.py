from __future__ import annotations

import httpx
import pytest

from mindspace.identity.seed import DEMO_ACCOUNTS, seed
from mindspace.platform.db import Database

pytestmark = pytest.mark.asyncio


async def test_demo_accounts_can_sign_in_and_seeding_twice_changes_nothing(
    db: Database, client: httpx.AsyncClient
) -> None:
    lines = await seed(db)
    again = await seed(db)
    assert lines == again
    for email, password, _name, roles in DEMO_ACCOUNTS:
        assert any(email in line and password in line for line in lines)
        response = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        assert response.status_code == 200, response.text
        me = await client.get(
            "/api/v1/users/me",
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        )
        assert set(me.json()["roles"]) == {r.value for r in roles}

"""Identity test helpers: more sessions for a person without paying for argon2 each time."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI

from mindspace.identity.models import AuthSession, RefreshToken
from mindspace.identity.tokens import TokenService, new_refresh_token
from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database
from mindspace.platform.ids import new_id
from tests.conftest import Person


@dataclass(frozen=True)
class Device:
    """One more signed-in session of a person: what a client holds after logging in."""

    session_id: uuid.UUID
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def sign_in_device(db: Database, tokens: TokenService, person: Person) -> Device:
    """A new session for `person`, with an access token and a live refresh token, made directly
    (the login route has its own tests)."""
    session_id = new_id()
    refresh, refresh_hash = new_refresh_token()
    async with db.session(person.principal) as session:
        session.add(
            AuthSession(id=session_id, owner_id=person.id, expires_at=utc_now() + timedelta(days=1))
        )
        await session.flush()
        session.add(
            RefreshToken(owner_id=person.id, session_id=session_id, token_hash=refresh_hash)
        )
    access, _ = tokens.issue(dataclasses.replace(person.principal, session_id=session_id))
    return Device(session_id, access, refresh)


@pytest.fixture
def tokens(app: FastAPI) -> TokenService:
    service: TokenService = app.state.tokens
    return service

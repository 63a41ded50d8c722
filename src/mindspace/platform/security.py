"""Who is acting: the principal every service call and every database transaction is scoped by."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Protocol


class Role(enum.StrEnum):
    member = "member"
    expert = "expert"
    admin = "admin"
    super = "super"


STAFF_ROLES = frozenset({Role.admin, Role.super})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated person acting through a session. Anonymous requests have none."""

    user_id: uuid.UUID
    roles: frozenset[Role] = field(default_factory=lambda: frozenset({Role.member}))
    session_id: uuid.UUID | None = None

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    def has(self, role: Role) -> bool:
        return role in self.roles


class Authenticator(Protocol):
    """Turns a bearer token into a principal; identity provides the implementation."""

    async def authenticate(self, token: str) -> Principal: ...

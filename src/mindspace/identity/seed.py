"""Demo accounts for a newcomer's first run: one of each kind of person."""

from __future__ import annotations

from mindspace.identity import service
from mindspace.platform.audit import Origin
from mindspace.platform.db import Database, DbScope
from mindspace.platform.security import Role

DEMO_ACCOUNTS = (
    ("member@demo.mindspace.app", "calm-river-member", "Maya (member)", (Role.member,)),
    (
        "expert@demo.mindspace.app",
        "steady-oak-expert",
        "Dr. Arun (expert)",
        (Role.member, Role.expert),
    ),
    ("admin@demo.mindspace.app", "quiet-harbour-admin", "Ada (admin)", (Role.member, Role.admin)),
)


async def seed(db: Database) -> list[str]:
    lines = []
    for email, password, name, roles in DEMO_ACCOUNTS:
        async with db.session(None, scope=DbScope.auth) as session:
            await service.register(
                session,
                email=email,
                password=password,
                display_name=name,
                origin=Origin(user_agent="mindspace seed"),
                roles=roles,
            )
        lines.append(f"  {roles[-1].value:<7} {email}  password: {password}")
    return lines

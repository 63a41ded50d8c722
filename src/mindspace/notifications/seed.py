"""Demo content: a welcome note in the inbox of the first demo accounts."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from mindspace.identity import service as identity
from mindspace.notifications.kinds import KINDS
from mindspace.notifications.models import Notification
from mindspace.platform.db import Database, DbScope

WELCOME = {
    "title": "Welcome to Mindspace",
    "body": "This is your inbox. Reminders, replies and booking updates will appear here.",
}


async def seed(db: Database) -> list[str]:
    async with db.session(None, scope=DbScope.system) as session:
        for user_id in await identity.list_account_ids(session, limit=20):
            await session.execute(
                insert(Notification)
                .values(
                    owner_id=user_id,
                    category=identity.NotificationCategory.product_updates.value,
                    kind="announcement",
                    title=WELCOME["title"],
                    body=WELCOME["body"],
                    data=WELCOME,
                    link=KINDS["announcement"].path,
                    dedup_key="seed:welcome",
                )
                .on_conflict_do_nothing()
            )
    return []

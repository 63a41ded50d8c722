"""A new notification reaches the person's open app over a real Socket.IO connection, with the
per-person sequence number, and reaches no one else."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from tests.notifications.conftest import Background
from tests.notifications.test_delivery import notify, reminder, verified_person
from tests.platform.realtime.conftest import Client, serve

pytestmark = pytest.mark.asyncio


async def test_a_notification_is_pushed_live_to_its_person_only(
    db: Database, app: FastAPI, settings: Settings, background: Background
) -> None:
    person = await verified_person(db, app)
    bystander = await verified_person(db, app)
    async with serve(settings) as live:
        background.live = live.realtime
        mine, theirs = Client(), Client()
        await mine.connect(live.url, {"token": person.token})
        await theirs.connect(live.url, {"token": bystander.token})
        await mine.until_ready()
        await theirs.until_ready()
        try:
            await notify(db, person, **reminder("Evening check-in"))
            await background.run()
            event, envelope = await mine.next()
            assert event == "notification.created"
            assert envelope["seq"] >= 1
            assert envelope["data"]["id"].startswith("ntf_")
            assert envelope["data"]["kind"] == "reminder_due"
            assert await theirs.quiet() == []
        finally:
            await mine.close()
            await theirs.close()

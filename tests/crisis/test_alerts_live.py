"""A new crisis alert reaches every connected staff member at once, over a real Socket.IO
connection, and no member."""

from __future__ import annotations

import procrastinate
import pytest

from mindspace.app import build_event_bus, build_worker_context
from mindspace.crisis import service
from mindspace.crisis.schemas import Severity
from mindspace.platform import crypto
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from mindspace.platform.ids import encode
from mindspace.platform.relay import relay_once
from tests.conftest import Person
from tests.platform.realtime.conftest import Client, serve

pytestmark = pytest.mark.asyncio


async def test_staff_see_a_new_alert_live(
    db: Database,
    settings: Settings,
    job_app: procrastinate.App,
    user: Person,
    admin: Person,
) -> None:
    async with serve(settings) as live:
        staff, member = Client(), Client()
        await staff.connect(live.url, {"token": admin.token})
        await member.connect(live.url, {"token": user.token})
        await staff.until_ready()
        await member.until_ready()
        try:
            vault = crypto.attached_vault(db)
            assert vault is not None
            async with db.session(user.principal) as session:
                alert_id = await service.raise_alert(
                    session,
                    key=await vault.data_key(session, user.id),
                    severity=Severity.high_risk,
                    trigger="companion_message",
                    signals=["plan_or_method"],
                    excerpt="words only staff may read",
                )
            await relay_once(db, build_event_bus(job_app))
            await job_app.run_worker_async(
                wait=False,
                install_signal_handlers=False,
                additional_context=build_worker_context(
                    db, settings, realtime=live.app.state.realtime
                ),
            )
            event, data = await staff.next()
            assert event == "crisis_alert"
            assert data["id"] == encode("cra", alert_id)
            assert (data["severity"], data["signals"]) == ("high_risk", ["plan_or_method"])
            assert "excerpt" not in data  # the words stay in the audited queue
            assert await member.quiet() == []
        finally:
            await staff.close()
            await member.close()

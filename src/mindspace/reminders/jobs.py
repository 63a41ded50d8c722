"""Reminders' background task: every minute, fire what is due."""

from __future__ import annotations

import procrastinate
from procrastinate import JobContext

from mindspace.platform import jobs
from mindspace.reminders import service

blueprint = procrastinate.Blueprint()


# No retry: the next minute's run picks up whatever this one left, and firing is idempotent
# per occurrence (a fired reminder is no longer due).
@blueprint.periodic(cron="* * * * *")
@blueprint.task(name="fire_due_reminders", pass_context=True)
async def fire_due_reminders(context: JobContext, timestamp: int) -> None:
    await service.fire_due_reminders(jobs.job_database(context))

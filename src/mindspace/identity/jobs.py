"""Identity's background tasks: building data exports and erasing accounts whose deletion
grace period has passed."""

from __future__ import annotations

import uuid
from typing import Any

import procrastinate
from procrastinate import JobContext

from mindspace.identity.service import avatar, data_rights
from mindspace.platform import jobs
from mindspace.platform.config import Settings
from mindspace.platform.relay import EventBus
from mindspace.platform.storage import Storage

blueprint = procrastinate.Blueprint()


def _context(context: JobContext) -> tuple[Storage, Settings, dict[str, Any]]:
    extra = context.additional_context
    return extra["storage"], extra["settings"], extra["exporters"]


@blueprint.task(name="build_export", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def build_export(context: JobContext, export_id: str) -> None:
    storage, settings, exporters = _context(context)
    await data_rights.build_export(
        jobs.job_database(context),
        storage,
        exporters,
        export_id=uuid.UUID(export_id),
        base_url=settings.public_base_url,
    )


@blueprint.periodic(cron="*/10 * * * *")
@blueprint.task(name="erase_due_accounts", pass_context=True, retry=jobs.DEFAULT_RETRY)
async def erase_due_accounts(context: JobContext, timestamp: int) -> None:
    storage, _settings, _exporters = _context(context)
    await data_rights.erase_due_accounts(
        jobs.job_database(context), storage, owned_files=avatar.avatar_files
    )


def subscribe(bus: EventBus, job_app: procrastinate.App) -> None:
    bus.subscribe(
        data_rights.ExportRequested.topic,
        jobs.defer_on(
            job_app, "identity:build_export", lambda e: {"export_id": e.payload["export_id"]}
        ),
        consumer="identity.build_export",
    )

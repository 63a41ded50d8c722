"""Mood's part of the account data export, through the real export job and archive."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import procrastinate
import pytest

from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from tests.conftest import Person, run_background
from tests.identity.test_data_rights import (  # the export flow's own helpers
    EXPORTS,
    _download_link,
    _step_up,
)
from tests.mood.conftest import post_checkin


@pytest.mark.asyncio
async def test_the_archive_holds_my_check_ins_and_no_one_elses(
    client: httpx.AsyncClient,
    db: Database,
    user: Person,
    other_user: Person,
    job_app: procrastinate.App,
    settings: Settings,
) -> None:
    mine = await post_checkin(client, user, score=8, note="my own words")
    await post_checkin(client, other_user, score=2, note="someone else's words")
    await _step_up(client, user)
    assert (await client.post(EXPORTS, headers=user.headers)).status_code == 202
    await run_background(job_app, db, settings)
    archive = await client.get(await _download_link(db), headers=user.headers)
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        mood = json.loads(zipped.read("mood.json"))
    assert [c["id"] for c in mood["checkins"]] == [mine["id"]]
    assert mood["checkins"][0]["note"] == "my own words"
    assert "someone else" not in archive.content.decode("latin-1")

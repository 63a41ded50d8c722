"""Journal sentiment beside the mood: only for a person who allows journal analysis, numbers
only, on the person's own local days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import procrastinate
import pytest
from fastapi import FastAPI

from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from tests.conftest import Person, run_background
from tests.journal.conftest import write_entry
from tests.journal.test_analysis import SAD_ENTRY, _allow
from tests.mood.conftest import post_checkin

pytestmark = pytest.mark.asyncio
INSIGHTS = "/api/v1/mood/insights"


async def test_insights_show_my_journal_sentiment_only_when_i_allow_analysis(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    job_app: procrastinate.App,
    user: Person,
    other_user: Person,
) -> None:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12).isoformat()
    for person in (user, other_user):
        await post_checkin(client, person, score=3)
        await write_entry(client, person, body=SAD_ENTRY, written_at=yesterday)
    await _allow(client, user, True)
    await run_background(job_app, db, settings)

    mine = (await client.get(INSIGHTS, headers=user.headers)).json()
    (day,) = mine["journal_sentiment"]
    assert day["entries"] == 1
    assert day["mean_compound"] < 0  # a sad entry reads as negative
    assert day["day"] == yesterday[:10]
    assert set(day) == {"day", "mean_compound", "entries"}

    theirs = (await client.get(INSIGHTS, headers=other_user.headers)).json()
    assert theirs["journal_sentiment"] == []  # never allowed: never analysed

    await _allow(client, user, False)
    await run_background(job_app, db, settings)
    withdrawn = (await client.get(INSIGHTS, headers=user.headers)).json()
    assert withdrawn["journal_sentiment"] == []

"""Taking the journal away: JSON and Markdown downloads, and the account export's part."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.app import DOMAINS
from mindspace.platform.db import Database
from tests.conftest import Person, assert_problem
from tests.journal.conftest import write_entry

EXPORT = "/api/v1/journal/export"
pytestmark = pytest.mark.asyncio


async def _two_entries(client: httpx.AsyncClient, person: Person) -> None:
    await write_entry(
        client,
        person,
        title="First *day*",
        body="<h2>Morning</h2><p>I walked to the <strong>sea</strong>.</p><ul><li>calm</li></ul>",
        mood="happy",
        tags=["walks"],
        prompt_id="gratitude-01",
        written_at="2026-01-02T08:00:00Z",
    )
    await write_entry(
        client, person, title="Second", body="<p>Rain.</p>", written_at="2026-01-03T08:00:00Z"
    )


async def test_the_json_export_holds_every_entry_opened(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    await _two_entries(client, user)
    await write_entry(client, other_user, title="Not yours")
    response = await client.get(EXPORT, headers=user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "attachment" in response.headers["content-disposition"]
    entries = response.json()["entries"]
    assert [e["title"] for e in entries] == ["First *day*", "Second"]  # oldest first
    assert entries[0]["tags"] == ["walks"]
    assert "Not yours" not in response.text


async def test_the_markdown_export_reads_as_a_journal(
    client: httpx.AsyncClient, user: Person
) -> None:
    await _two_entries(client, user)
    response = await client.get(EXPORT, params={"format": "markdown"}, headers=user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    text = response.text
    assert text.startswith("# My journal")
    assert r"## First \*day\*" in text  # the title is shown literally, not as emphasis
    assert "### Morning" not in text
    assert "## Morning" in text
    assert "I walked to the **sea**." in text
    assert "- calm" in text
    assert "*Mood: happy*" in text
    assert "*Tags: walks*" in text
    assert "> What is one small thing that went right today" in text
    assert text.index("First") < text.index("Second")


async def test_export_needs_a_token_and_a_known_format(
    client: httpx.AsyncClient, user: Person
) -> None:
    assert_problem(await client.get(EXPORT), 401)
    assert_problem(await client.get(EXPORT, params={"format": "pdf"}, headers=user.headers), 422)


async def test_the_account_export_hook_returns_my_journal_only(
    client: httpx.AsyncClient, db: Database, app: FastAPI, user: Person, other_user: Person
) -> None:
    await _two_entries(client, user)
    await client.post(
        "/api/v1/journal/custom-prompts", json={"text": "My own"}, headers=user.headers
    )
    await write_entry(client, other_user, title="Not yours")
    (journal,) = [d for d in DOMAINS if d.name == "journal"]
    assert journal.export is not None
    session: AsyncSession
    async with db.session(user.principal) as session:
        part = await journal.export(session, user.principal)
    encoded = json.dumps(part)
    assert [e["title"] for e in part["entries"]] == ["First *day*", "Second"]
    assert [p["text"] for p in part["custom_prompts"]] == ["My own"]
    assert part["analyses"] == []
    assert "Not yours" not in encoded
    # It is what the archive would hold: JSON-ready as it stands.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("journal.json", encoded)

"""What an alert keeps of the person's words: sealed at rest with their own key, opened only in
the audited view of one alert, sealed too when left over in plaintext from before, forgotten a
fixed time after the alert is resolved, and unreadable once the account is erased."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import procrastinate
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from mindspace.crisis import service
from mindspace.crisis.models import EXCERPT, CrisisAlert
from mindspace.crisis.schemas import Severity
from mindspace.platform.audit import AuditRecord
from mindspace.platform.clock import utc_now
from mindspace.platform.config import Settings
from mindspace.platform.crypto import DecryptionError, Vault
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import decode, encode, new_id
from tests.companion.conftest import send, start
from tests.conftest import (
    Person,
    assert_problem,
    database_dump,
    run_background,
    run_jobs,
    visible_in,
)

pytestmark = pytest.mark.asyncio
ALERTS = "/api/v1/admin/crisis-alerts"
SECRETS = ("Quixotic", "marmalade", "Zanzibar")
WORDS = "I want to kill myself tonight. Quixotic marmalade in Zanzibar."


def _vault(app: FastAPI) -> Vault:
    vault: Vault = app.state.vault
    return vault


async def _raise(app: FastAPI, db: Database, person: Person, excerpt: str = WORDS) -> str:
    async with db.session(person.principal) as session:
        alert_id = await service.raise_alert(
            session,
            key=await _vault(app).data_key(session, person.id),
            severity=Severity.high_risk,
            trigger="companion_message",
            signals=["explicit_intent"],
            excerpt=excerpt,
        )
    return encode("cra", alert_id)


async def _detail(client: httpx.AsyncClient, admin: Person, alert_id: str) -> dict[str, Any]:
    response = await client.get(f"{ALERTS}/{alert_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = response.json()
    return detail


async def _column(owner_engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with owner_engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def test_a_dump_holds_no_excerpt_from_the_message_to_the_staff_view(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    job_app: procrastinate.App,
    user: Person,
    admin: Person,
    owner_engine: AsyncEngine,
) -> None:
    conversation = await start(client, user)
    turn = await send(client, user, conversation, WORDS)
    assert turn["replies"][0]["kind"] == "crisis"
    # As the message left it: the worker's sealing of leftovers has not run.
    dump = await database_dump(owner_engine)
    assert "explicit_intent" in dump
    for secret in SECRETS:
        assert not visible_in(dump, secret), secret
    # The events, the jobs they queue and the live push to staff: none carries the words.
    await run_background(job_app, db, settings)
    listed = await client.get(ALERTS, headers=admin.headers)
    (item,) = listed.json()["items"]
    detail = await _detail(client, admin, item["id"])
    assert detail["excerpt"] == WORDS  # staff read them, in the view of this one alert

    dump = await database_dump(owner_engine)
    assert user.email in dump  # the dump does read the tables
    assert "crisis.alert.view" in dump  # including the audit trail and the job queue
    for secret in SECRETS:
        assert not visible_in(dump, secret), secret


async def test_the_words_open_only_in_the_audited_view_of_one_alert(
    client: httpx.AsyncClient, db: Database, app: FastAPI, user: Person, admin: Person
) -> None:
    alert_id = await _raise(app, db, user)
    listed = await client.get(ALERTS, headers=admin.headers)
    assert [set(i) & {"excerpt", "excerpt_sealed"} for i in listed.json()["items"]] == [set()]
    taken = await client.post(f"{ALERTS}/{alert_id}/assign", json={}, headers=admin.headers)
    assert taken.status_code == 200, taken.text
    assert "excerpt" not in taken.json()  # acting on an alert is not reading it

    assert (await _detail(client, admin, alert_id))["excerpt"] == WORDS
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        views = (
            await session.execute(
                select(AuditRecord.actor_id, AuditRecord.target_id).where(
                    AuditRecord.action == "crisis.alert.view"
                )
            )
        ).all()
    assert views == [(admin.id, decode("cra", alert_id))]


async def test_members_read_nothing_and_learn_nothing_of_which_alerts_exist(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    user: Person,
    other_user: Person,
    admin: Person,
) -> None:
    alert_id = await _raise(app, db, user)
    unknown = encode("cra", new_id())
    for person in (user, other_user):
        for target in (alert_id, unknown):
            # The same refusal for an alert that exists and one that does not.
            body = assert_problem(
                await client.get(f"{ALERTS}/{target}", headers=person.headers), 403
            )
            assert not any(visible_in(str(body), s) for s in SECRETS)
    assert_problem(await client.get(f"{ALERTS}/{alert_id}"), 401)
    # Under the API, row-level security: another person's scope holds no alert of theirs, and
    # the staff's own scope still holds no one's data key.
    async with db.session(other_user.principal) as session:
        assert (await session.execute(text("SELECT count(*) FROM crisis_alert"))).scalar() == 0
    async with db.session(admin.principal, scope=DbScope.admin) as session:
        assert (await session.execute(text("SELECT count(*) FROM user_data_key"))).scalar() == 0


async def test_a_sealed_excerpt_opens_only_on_its_own_alert(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    user: Person,
    other_user: Person,
    admin: Person,
    owner_engine: AsyncEngine,
) -> None:
    mine = await _raise(app, db, user)
    theirs = await _raise(app, db, other_user, excerpt="someone else's words")
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE crisis_alert SET excerpt_sealed = "
                "(SELECT excerpt_sealed FROM crisis_alert WHERE id = :source) WHERE id = :target"
            ),
            {"source": decode("cra", theirs), "target": decode("cra", mine)},
        )
    moved = await _detail(client, admin, mine)
    # Not the other person's words: the alert is still there for the responder, without any.
    assert (moved["severity"], moved["excerpt"]) == ("high_risk", None)
    assert (await _detail(client, admin, theirs))["excerpt"] == "someone else's words"


async def _leftover(owner_engine: AsyncEngine, person: Person, excerpt: str) -> str:
    """An alert as the release before sealing stored it: the words in plaintext."""
    alert_id = new_id()
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO crisis_alert (id, owner_id, severity, trigger, excerpt) "
                "VALUES (:id, :owner, 'high_risk', 'companion_message', :excerpt)"
            ),
            {"id": alert_id, "owner": person.id, "excerpt": excerpt},
        )
    return encode("cra", alert_id)


async def test_plaintext_left_from_before_is_sealed_by_the_worker_and_never_lost(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    job_app: procrastinate.App,
    user: Person,
    other_user: Person,
    admin: Person,
    owner_engine: AsyncEngine,
) -> None:
    await _raise(app, db, user, excerpt="already sealed")  # the user has a data key...
    with_key = await _leftover(owner_engine, user, "Quixotic leftover")
    # ...the other person has none yet: sealing makes theirs.
    without_key = await _leftover(owner_engine, other_user, "marmalade leftover")
    # Before the job runs, staff read a leftover through the same audited view.
    assert (await _detail(client, admin, with_key))["excerpt"] == "Quixotic leftover"

    await job_app.tasks["crisis:seal_legacy_excerpts"].defer_async(timestamp=0)
    await run_jobs(job_app, db, settings)

    dump = await database_dump(owner_engine)
    assert not visible_in(dump, "Quixotic")
    assert not visible_in(dump, "marmalade")
    assert (await _detail(client, admin, with_key))["excerpt"] == "Quixotic leftover"
    assert (await _detail(client, admin, without_key))["excerpt"] == "marmalade leftover"
    # Sealed under the excerpt's purpose, bound to its own row and owner.
    async with db.session(None, scope=DbScope.system) as session:
        alert = await session.get(CrisisAlert, decode("cra", without_key))
        assert alert is not None
        assert alert.excerpt_sealed is not None
        key = await _vault(app).find_data_key(session, other_user.id)
    assert key is not None
    assert key.open_text(alert.excerpt_sealed, purpose=EXCERPT, row_id=alert.id) == (
        "marmalade leftover"
    )
    with pytest.raises(DecryptionError):
        key.open_text(alert.excerpt_sealed, purpose="journal_entry.body", row_id=alert.id)
    # Idempotent: nothing left, nothing done.
    assert await service.seal_legacy_excerpts(db, _vault(app)) == 0


async def test_the_words_are_purged_a_fixed_time_after_resolution_and_the_alert_stays(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    settings: Settings,
    job_app: procrastinate.App,
    user: Person,
    other_user: Person,
    admin: Person,
    owner_engine: AsyncEngine,
) -> None:
    retention = timedelta(days=settings.crisis_excerpt_retention_days)
    assert retention == timedelta(days=30)
    expired = await _raise(app, db, user)
    recent = await _raise(app, db, other_user, excerpt="resolved last week")
    for alert_id in (expired, recent):
        resolved = await client.post(
            f"{ALERTS}/{alert_id}/resolve", json={"note": "Followed up"}, headers=admin.headers
        )
        assert resolved.status_code == 200, resolved.text
    leftover = await _leftover(owner_engine, user, "Zanzibar leftover")
    async with owner_engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE crisis_alert SET status = 'resolved', resolved_at = :at "
                "WHERE id IN (:expired, :leftover)"
            ),
            {
                "at": utc_now() - retention - timedelta(minutes=1),
                "expired": decode("cra", expired),
                "leftover": decode("cra", leftover),
            },
        )
    open_one = await _leftover(owner_engine, other_user, "still open, however old")

    await job_app.tasks["crisis:apply_retention"].defer_async(timestamp=0)
    await run_jobs(job_app, db, settings)

    gone = await _detail(client, admin, expired)
    assert gone["excerpt"] is None
    # The alert and its metadata stay: what happened, when, and how it was resolved.
    assert (gone["severity"], gone["status"], gone["signals"], gone["resolution"]) == (
        "high_risk",
        "resolved",
        ["explicit_intent"],
        "Followed up",
    )
    assert (await _detail(client, admin, leftover))["excerpt"] is None
    assert (await _detail(client, admin, recent))["excerpt"] == "resolved last week"
    assert (await _detail(client, admin, open_one))["excerpt"] == "still open, however old"
    dump = await database_dump(owner_engine)
    assert not any(visible_in(dump, s) for s in SECRETS)
    assert (
        await _column(
            owner_engine,
            "SELECT count(*) FROM crisis_alert WHERE excerpt_sealed IS NULL AND excerpt IS NULL",
        )
        == 2
    )


async def test_erasing_the_account_leaves_nothing_to_read(
    client: httpx.AsyncClient,
    db: Database,
    app: FastAPI,
    user: Person,
    other_user: Person,
    admin: Person,
    owner_engine: AsyncEngine,
) -> None:
    mine = await _raise(app, db, user)
    theirs = await _raise(app, db, other_user, excerpt="kept for the other person")
    # What a backup taken before the erasure would hold.
    backup = await _column(
        owner_engine,
        "SELECT excerpt_sealed FROM crisis_alert WHERE id = :id",
        id=decode("cra", mine),
    )
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
        assert await _vault(app).find_data_key(session, user.id) is None

    assert backup  # the ciphertext exists in the backup, and nothing can open it any more
    assert_problem(
        await client.get(f"{ALERTS}/{mine}", headers=admin.headers), 404, "crisis-alert-not-found"
    )
    async with owner_engine.connect() as conn:
        for table in ("crisis_alert", "crisis_concern_note", "user_data_key"):
            owners = set(
                (await conn.execute(text(f"SELECT owner_id FROM {table}"))).scalars()  # noqa: S608
            )
            assert user.id not in owners, table
    assert (await _detail(client, admin, theirs))["excerpt"] == "kept for the other person"

"""Outbound messages: queued with the act that causes them, delivered after it commits."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, update

from mindspace.platform.clock import utc_now
from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import Channel, DevSink, OutboundMessage, deliver_pending, queue
from tests.conftest import Person


async def _messages(db: Database) -> list[OutboundMessage]:
    async with db.session(None, scope=DbScope.system) as session:
        stmt = select(OutboundMessage).order_by(OutboundMessage.id)
        return list((await session.execute(stmt)).scalars())


class _Down:
    channel = Channel.email

    async def deliver(self, message: OutboundMessage) -> None:
        raise ConnectionError("smtp unreachable")


@pytest.mark.asyncio
async def test_a_message_is_queued_only_if_its_transaction_commits(
    db: Database, user: Person
) -> None:
    async with db.session(user.principal) as session:
        queue(session, channel=Channel.email, recipient=user.email, purpose="hello", body="hi")
    with pytest.raises(RuntimeError):
        async with db.session(user.principal) as session:
            queue(session, channel=Channel.email, recipient=user.email, purpose="lost", body="x")
            raise RuntimeError("rolled back")
    assert [m.purpose for m in await _messages(db)] == ["hello"]


@pytest.mark.asyncio
async def test_members_cannot_read_queued_messages(db: Database, user: Person) -> None:
    async with db.session(user.principal) as session:
        queue(session, channel=Channel.sms, recipient="+447700900123", purpose="otp", body="1")
        assert (await session.execute(select(OutboundMessage))).first() is None


@pytest.mark.asyncio
async def test_the_dev_sink_prints_and_marks_sent(
    db: Database, user: Person, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.session(user.principal) as session:
        queue(
            session,
            channel=Channel.email,
            recipient=user.email,
            purpose="verify_email",
            subject="Confirm your email",
            body="Open https://mindspace.test/verify?token=abc",
        )
    with caplog.at_level(logging.INFO, logger="mindspace.platform.messaging"):
        assert await deliver_pending(db, {Channel.email: DevSink(Channel.email)}) == 1
    assert "https://mindspace.test/verify?token=abc" in caplog.text
    (message,) = await _messages(db)
    assert message.sent_at is not None
    assert await deliver_pending(db, {Channel.email: DevSink(Channel.email)}) == 0


@pytest.mark.asyncio
async def test_a_provider_outage_leaves_the_message_for_a_retry(db: Database, user: Person) -> None:
    async with db.session(user.principal) as session:
        queue(session, channel=Channel.email, recipient=user.email, purpose="p", body="b")
    await deliver_pending(db, {Channel.email: _Down()})
    (message,) = await _messages(db)
    assert (message.sent_at, message.attempts) == (None, 1)
    assert "smtp unreachable" in (message.last_error or "")
    assert message.next_attempt_at is not None

    # Backing off: an immediate second pass leaves it alone rather than burn an attempt.
    assert await deliver_pending(db, {Channel.email: _Down()}) == 0
    (message,) = await _messages(db)
    assert message.attempts == 1

    await _due_now(db)
    await deliver_pending(db, {Channel.email: DevSink(Channel.email)})
    (message,) = await _messages(db)
    assert message.sent_at is not None


@pytest.mark.asyncio
async def test_a_long_outage_waits_longer_each_time_and_loses_nothing(
    db: Database, user: Person
) -> None:
    async with db.session(user.principal) as session:
        queue(session, channel=Channel.email, recipient=user.email, purpose="p", body="b")
    waits = []
    for _ in range(6):
        await deliver_pending(db, {Channel.email: _Down()})
        (message,) = await _messages(db)
        assert message.next_attempt_at is not None
        waits.append(message.next_attempt_at - utc_now())
        await _due_now(db)
    assert waits == sorted(waits)
    assert message.attempts == 6
    await deliver_pending(db, {Channel.email: DevSink(Channel.email)})
    (message,) = await _messages(db)
    assert message.sent_at is not None


async def _due_now(db: Database) -> None:
    async with db.session(None, scope=DbScope.system) as session:
        await session.execute(update(OutboundMessage).values(next_attempt_at=None))

"""The Twilio SMS provider, against a real HTTP server standing in for Twilio's API."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mindspace.platform.db import Database, DbScope
from mindspace.platform.messaging import Channel, OutboundMessage, deliver_pending, queue
from mindspace.platform.sms import TwilioSms
from tests.conftest import serve_in_thread

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token"
FROM = "+15005550006"
TO = "+447911123456"


@dataclass
class Seen:
    path: str
    content_type: str
    authorization: str
    form: dict[str, list[str]]


@dataclass
class LocalTwilio:
    """Answers like Twilio's Messages endpoint and keeps what it was sent."""

    base_url: str = ""
    status: int = 201
    seen: list[Seen] = field(default_factory=list)

    async def messages(self, request: Request) -> JSONResponse:
        self.seen.append(
            Seen(
                path=request.url.path,
                content_type=request.headers.get("content-type", ""),
                authorization=request.headers.get("authorization", ""),
                form=parse_qs((await request.body()).decode()),
            )
        )
        if self.status >= 400:
            return JSONResponse(
                {"code": 20500, "message": "Internal Server Error"}, status_code=self.status
            )
        return JSONResponse({"sid": "SM" + "0" * 32, "status": "queued"}, status_code=self.status)


@pytest.fixture(scope="module")
def _server() -> Iterator[LocalTwilio]:
    peer = LocalTwilio()
    app = Starlette(
        routes=[Route("/2010-04-01/Accounts/{sid}/Messages.json", peer.messages, methods=["POST"])]
    )
    with serve_in_thread(app) as base_url:
        peer.base_url = base_url
        yield peer


@pytest.fixture
def twilio(_server: LocalTwilio) -> LocalTwilio:
    _server.status = 201
    _server.seen.clear()
    return _server


def provider(twilio: LocalTwilio, *, messaging_service_sid: str | None = None) -> TwilioSms:
    return TwilioSms(
        account_sid=SID,
        auth_token=TOKEN,
        base_url=twilio.base_url,
        from_number=None if messaging_service_sid else FROM,
        messaging_service_sid=messaging_service_sid,
    )


async def queue_text(db: Database, body: str = "123456 is your Mindspace code.") -> None:
    async with db.session(None, scope=DbScope.system) as session:
        queue(session, channel=Channel.sms, recipient=TO, purpose="otp_sign_in", body=body)


async def messages(db: Database) -> list[OutboundMessage]:
    async with db.session(None, scope=DbScope.system) as session:
        return list((await session.execute(select(OutboundMessage))).scalars())


@pytest.mark.asyncio
async def test_a_queued_text_is_posted_to_twilio(db: Database, twilio: LocalTwilio) -> None:
    await queue_text(db, "123456 is your Mindspace code. Never share it.")
    sms = provider(twilio)
    try:
        assert await deliver_pending(db, {Channel.sms: sms}) == 1
    finally:
        await sms.aclose()

    (seen,) = twilio.seen
    assert seen.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert seen.content_type == "application/x-www-form-urlencoded"
    assert seen.authorization == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert seen.form == {
        "To": [TO],
        "From": [FROM],
        "Body": ["123456 is your Mindspace code. Never share it."],
    }
    (message,) = await messages(db)
    assert message.sent_at is not None
    assert message.attempts == 0


@pytest.mark.asyncio
async def test_a_twilio_error_leaves_the_text_for_a_retry(
    db: Database, twilio: LocalTwilio
) -> None:
    await queue_text(db)
    twilio.status = 500
    sms = provider(twilio)
    try:
        await deliver_pending(db, {Channel.sms: sms})
        (message,) = await messages(db)
        assert (message.sent_at, message.attempts) == (None, 1)
        assert "500" in (message.last_error or "")
        assert "20500" in (message.last_error or "")  # Twilio's own code, for whoever looks

        twilio.status = 201
        await deliver_pending(db, {Channel.sms: sms})  # backing off: not tried again yet
        assert len(twilio.seen) == 1
        async with db.session(None, scope=DbScope.system) as session:
            await session.execute(update(OutboundMessage).values(next_attempt_at=None))
        await deliver_pending(db, {Channel.sms: sms})
    finally:
        await sms.aclose()
    (message,) = await messages(db)
    assert message.sent_at is not None
    assert len(twilio.seen) == 2


@pytest.mark.asyncio
async def test_a_messaging_service_can_send_instead_of_a_number(
    db: Database, twilio: LocalTwilio
) -> None:
    await queue_text(db)
    sms = provider(twilio, messaging_service_sid="MG0123")
    try:
        await deliver_pending(db, {Channel.sms: sms})
    finally:
        await sms.aclose()
    (seen,) = twilio.seen
    assert seen.form["MessagingServiceSid"] == ["MG0123"]
    assert "From" not in seen.form


@pytest.mark.parametrize(("number", "service"), [(None, None), (FROM, "MG0123")])
def test_a_sender_is_one_number_or_one_messaging_service(
    number: str | None, service: str | None
) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TwilioSms(
            account_sid=SID, auth_token=TOKEN, from_number=number, messaging_service_sid=service
        )

"""Real local peers for the notification channels: an SMTP server (aiosmtpd), an HTTP server
that speaks Web Push (checks the VAPID signature, decrypts the payload) and one that answers
like Twilio; plus the worker's background loop, run to idle on demand."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs

import http_ece
import jwt
import orjson
import procrastinate
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from procrastinate import PsycopgConnector
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mindspace.notifications import jobs as notification_jobs
from mindspace.notifications.channels import LiveChannel
from mindspace.platform import jobs
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from mindspace.platform.messaging import Channel, Provider
from mindspace.platform.relay import EventBus, relay_once
from mindspace.platform.sms import TwilioSms
from mindspace.platform.smtp import SmtpEmail
from mindspace.platform.webpush import WebPush
from tests.conftest import free_port, serve_in_thread

VAPID_SUBJECT = "mailto:ops@mindspace.test"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"


# --- SMTP -------------------------------------------------------------------------------------


class SmtpInbox:
    """What the local SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    """aiosmtpd on a fixed local port, which tests stop and start to play an outage."""

    port: int
    inbox: SmtpInbox = field(default_factory=SmtpInbox)
    _controller: Controller | None = None

    def start(self) -> None:
        assert self._controller is None
        controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def provider(self) -> SmtpEmail:
        return SmtpEmail(
            host="127.0.0.1",
            port=self.port,
            from_address="Mindspace <no-reply@mindspace.test>",
            starttls=False,
            timeout_s=5,
        )


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


# --- Web Push ---------------------------------------------------------------------------------


@dataclass
class Browser:
    """A browser's side of a push subscription: the keys the push message is encrypted to."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str

    def subscription(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": _b64(raw), "auth": _b64(self.auth)},
        }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


@dataclass
class PushService:
    """Answers like a push service (RFC 8030). It refuses a request whose VAPID token is not
    signed by the key it names, is for another audience or has expired, and decrypts what it
    accepts with the browser's keys, so a test sees exactly what a device would show."""

    base_url: str = ""
    status: int = 201
    server_public_key: str = ""
    browsers: dict[str, Browser] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def browser(self) -> Browser:
        token = uuid.uuid4().hex
        browser = Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16), "")
        browser.endpoint = f"{self.base_url}/push/{token}"
        self.browsers[token] = browser
        return browser

    def _check_vapid(self, request: Request) -> str | None:
        scheme, _, params = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "vapid":
            return "no vapid authorization"
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        if parts.get("k") != self.server_public_key:
            return "unknown application server key"
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(parts["k"]))
        try:
            claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=self.base_url)
        except jwt.PyJWTError as exc:
            return f"bad token: {exc}"
        if claims.get("sub") != VAPID_SUBJECT:
            return "bad subject"
        return None

    async def push(self, request: Request) -> Response:
        problem = self._check_vapid(request)
        if problem:
            self.refused.append(problem)
            return JSONResponse({"error": problem}, status_code=401)
        if self.status >= 300:
            return Response(status_code=self.status)
        browser = self.browsers.get(request.path_params["token"])
        if browser is None:
            return Response(status_code=404)
        assert request.headers["content-encoding"] == "aes128gcm"
        assert int(request.headers["ttl"]) > 0
        plain = http_ece.decrypt(
            await request.body(),
            private_key=browser.key,
            auth_secret=browser.auth,
            version="aes128gcm",
        )
        self.received.append(orjson.loads(plain))
        self.headers.append(dict(request.headers))
        return Response(status_code=201)


@pytest.fixture(scope="session")
def vapid_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def _push_peer() -> Iterator[PushService]:
    service = PushService()
    app = Starlette(routes=[Route("/push/{token}", service.push, methods=["POST"])])
    with serve_in_thread(app) as base_url:
        service.base_url = base_url
        yield service


@pytest_asyncio.fixture
async def push_service(_push_peer: PushService, web_push: WebPush) -> PushService:
    service = _push_peer
    service.status = 201
    service.server_public_key = web_push.public_key
    service.browsers.clear()
    service.received.clear()
    service.refused.clear()
    service.headers = []
    return service


@pytest_asyncio.fixture
async def web_push(vapid_key: str) -> AsyncIterator[WebPush]:
    sender = WebPush(private_key=vapid_key, subject=VAPID_SUBJECT, timeout_s=5)
    yield sender
    await sender.aclose()


@pytest.fixture
def push_enabled(app: FastAPI, settings: Settings, vapid_key: str) -> Iterator[None]:
    """The API as configured with a VAPID key (the session's settings have none)."""
    configured = settings.model_copy(update={"vapid_private_key": SecretStr(vapid_key)})
    app.state.settings = configured
    try:
        yield
    finally:
        app.state.settings = settings


# --- Twilio -----------------------------------------------------------------------------------


@dataclass
class LocalTwilio:
    base_url: str = ""
    texts: list[dict[str, list[str]]] = field(default_factory=list)

    async def messages(self, request: Request) -> JSONResponse:
        self.texts.append(parse_qs((await request.body()).decode()))
        return JSONResponse({"sid": "SM" + "0" * 32, "status": "queued"}, status_code=201)


@pytest.fixture(scope="session")
def _twilio_peer() -> Iterator[LocalTwilio]:
    twilio = LocalTwilio()
    route = Route("/2010-04-01/Accounts/{sid}/Messages.json", twilio.messages, methods=["POST"])
    with serve_in_thread(Starlette(routes=[route])) as base_url:
        twilio.base_url = base_url
        yield twilio


@pytest_asyncio.fixture
async def twilio(_twilio_peer: LocalTwilio) -> LocalTwilio:
    _twilio_peer.texts.clear()
    return _twilio_peer


# --- realtime ---------------------------------------------------------------------------------


@dataclass
class LiveRecorder:
    """Stands in for the realtime service (built in parallel) at its one-method interface."""

    events: list[tuple[uuid.UUID, str, dict[str, Any]]] = field(default_factory=list)

    async def emit_to_user(self, user_id: uuid.UUID, event: str, data: dict[str, Any]) -> int:
        self.events.append((user_id, event, data))
        return 1


# --- the worker -------------------------------------------------------------------------------


def _fresh_job_app(db: Database) -> procrastinate.App:
    """A jobs app holding the notifications tasks, as the composition root names them.

    Built from the task functions rather than by adding the blueprint: procrastinate renames a
    blueprint's tasks in place when an app takes it, so a second app in the same test process
    (another module builds the whole product's) would see doubled namespaces."""
    app = procrastinate.App(
        connector=PsycopgConnector(conninfo=jobs.conninfo(db.engine.url), min_size=1, max_size=2)
    )
    for task in set(notification_jobs.blueprint.tasks.values()):
        short = task.name.rsplit(":", 1)[-1]
        app.task(
            name=f"{notification_jobs.NAMESPACE}:{short}",
            pass_context=True,
            retry=task.retry_strategy or False,
        )(task.func)
    return app


@pytest_asyncio.fixture(scope="module")
async def _module_job_app(app: FastAPI) -> AsyncIterator[procrastinate.App]:
    job_app = _fresh_job_app(app.state.db)
    async with job_app.open_async():
        yield job_app


@dataclass
class Background:
    """One `mindspace worker`, run to idle on demand: the relay, then the due jobs."""

    db: Database
    job_app: procrastinate.App
    settings: Settings
    owner_engine: AsyncEngine
    email: Provider
    sms: Provider
    push: WebPush | None = None
    live: LiveChannel | None = None  # a LiveRecorder, or the real Realtime

    def context(self) -> dict[str, Any]:
        providers = {Channel.email: self.email, Channel.sms: self.sms}
        extra: dict[str, Any] = {
            "settings": self.settings,
            "providers": providers,
            "web_push": self.push,
        }
        if self.live is not None:
            extra["realtime"] = self.live
        return jobs.worker_context(self.db, **extra)

    async def run(self) -> None:
        bus = EventBus()
        notification_jobs.subscribe(bus, self.job_app)
        for _ in range(5):
            relayed = await relay_once(self.db, bus)
            await self.job_app.run_worker_async(
                wait=False, install_signal_handlers=False, additional_context=self.context()
            )
            if not relayed:
                break

    async def fast_forward(self) -> int:
        """Time passes: every job waiting for a retry or a schedule becomes due now, and so
        does everything held for quiet hours. Returns how many jobs were waiting."""
        async with self.owner_engine.begin() as conn:
            waiting = await conn.execute(
                text(
                    "UPDATE procrastinate_jobs SET scheduled_at = now() - interval '1 second' "
                    "WHERE status = 'todo' AND scheduled_at > now()"
                )
            )
            await conn.execute(
                text(
                    "UPDATE notification_delivery SET hold_until = now() - interval '1 second' "
                    "WHERE status = 'held'"
                )
            )
        return int(waiting.rowcount)

    async def waiting_jobs(self) -> list[dict[str, Any]]:
        async with self.owner_engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT task_name, attempts, scheduled_at, "
                    "scheduled_at > now() AS in_future FROM procrastinate_jobs "
                    "WHERE status = 'todo' ORDER BY id"
                )
            )
            return [dict(r._mapping) for r in rows]


@pytest_asyncio.fixture
async def background(
    db: Database,
    settings: Settings,
    owner_engine: AsyncEngine,
    _module_job_app: procrastinate.App,
    twilio: LocalTwilio,
) -> AsyncIterator[Background]:
    from mindspace.platform.messaging import DevSink

    sms = TwilioSms(
        account_sid=TWILIO_SID,
        auth_token="token",
        from_number="+15005550006",
        base_url=twilio.base_url,
    )
    worker = Background(
        db=db,
        job_app=_module_job_app,
        settings=settings,
        owner_engine=owner_engine,
        email=DevSink(Channel.email),
        sms=sms,
    )
    yield worker
    await sms.aclose()

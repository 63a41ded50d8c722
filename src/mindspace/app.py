"""The composition root: builds the ASGI app from the platform and the domains."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import procrastinate
from fastapi import APIRouter, FastAPI
from redis.asyncio import Redis
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mindspace import __version__
from mindspace.companion.domain import domain as companion_domain
from mindspace.crisis.domain import domain as crisis_domain
from mindspace.identity.api import well_known
from mindspace.identity.domain import domain as identity_domain
from mindspace.identity.oidc_providers import OidcProviders, OidcSettings
from mindspace.identity.tokens import (
    MemoryRevocations,
    RedisRevocations,
    Revocations,
    TokenService,
    development_keys,
    key_from_pem,
)
from mindspace.journal.domain import domain as journal_domain
from mindspace.mood.domain import domain as mood_domain
from mindspace.notifications.domain import domain as notifications_domain
from mindspace.operations.domain import domain as operations_domain
from mindspace.platform import crypto, health, jobs, metrics
from mindspace.platform.cache import MemoryCache, RedisCache
from mindspace.platform.config import Settings, get_settings
from mindspace.platform.db import Database
from mindspace.platform.domains import Domain
from mindspace.platform.errors import ServiceUnavailable, install_error_handlers, problem_response
from mindspace.platform.messaging import Channel, DevSink, Provider
from mindspace.platform.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from mindspace.platform.nats import NatsPublisher, forward_to
from mindspace.platform.ratelimit import RateLimiter
from mindspace.platform.realtime import (
    Realtime,
    RealtimeServer,
    ReplayWindow,
    RoomRegistry,
    worker_realtime,
)
from mindspace.platform.relay import EventBus
from mindspace.platform.routing import include_flat
from mindspace.platform.sms import TwilioSms
from mindspace.platform.smtp import SmtpEmail
from mindspace.platform.storage import LocalStorage, S3Storage, Storage
from mindspace.platform.webpush import WebPush
from mindspace.platform.worker import BackgroundWorker
from mindspace.reminders.domain import domain as reminders_domain
from mindspace.safety import service as safety_service
from mindspace.safety.domain import domain as safety_domain

log = logging.getLogger(__name__)
DOMAINS: list[Domain] = [
    identity_domain,
    companion_domain,
    crisis_domain,
    journal_domain,
    mood_domain,
    notifications_domain,
    operations_domain,
    reminders_domain,
    safety_domain,
]
API_PREFIX = "/api/v1"


def build_tokens(settings: Settings, revocations: Revocations) -> TokenService:
    if settings.jwt_private_keys:
        keys = [key_from_pem(pem.get_secret_value().encode()) for pem in settings.jwt_private_keys]
    else:
        keys = development_keys(settings.data_dir / "keys")
    return TokenService(
        keys,
        issuer=settings.public_base_url,
        audience="mindspace-api",
        revocations=revocations,
    )


def build_jobs(db: Database) -> procrastinate.App:
    blueprints = {d.name: d.jobs for d in DOMAINS if d.jobs is not None}
    return jobs.build_app(db.engine.url, blueprints)


def build_event_bus(job_app: procrastinate.App, nats: NatsPublisher | None = None) -> EventBus:
    bus = EventBus()
    for domain in DOMAINS:
        if domain.subscribe is not None:
            domain.subscribe(bus, job_app)
    if nats is not None:
        forward_to(bus, nats)
    return bus


def build_vault(db: Database, settings: Settings) -> crypto.Vault:
    """The database's vault: the one already attached (the API's, when `serve` runs the worker
    in-process), else a new one, attached for the data-export hooks, which get a session only."""
    vault = crypto.attached_vault(db)
    if vault is None:
        vault = crypto.Vault(crypto.MasterKeys.from_settings(settings))
        crypto.attach_vault(db, vault)
    return vault


def build_storage(settings: Settings) -> Storage:
    if settings.storage_s3_bucket:
        secret = settings.storage_s3_secret_access_key
        return S3Storage(
            bucket=settings.storage_s3_bucket,
            endpoint_url=settings.storage_s3_endpoint_url,
            region=settings.storage_s3_region,
            access_key_id=settings.storage_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            public_base_url=settings.storage_public_base_url,
        )
    return LocalStorage(settings.data_dir / "media", base_url=settings.storage_public_base_url)


def build_providers(settings: Settings) -> dict[Channel, Provider]:
    providers: dict[Channel, Provider] = {c: DevSink(c) for c in Channel}
    smtp = SmtpEmail.from_settings(settings)
    if smtp is not None:
        providers[Channel.email] = smtp
    if settings.twilio_account_sid and settings.twilio_auth_token:
        providers[Channel.sms] = TwilioSms(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_number=settings.twilio_from_number,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            base_url=settings.twilio_base_url,
        )
    return providers


def replay_window(settings: Settings) -> ReplayWindow:
    return ReplayWindow(settings.realtime_replay_events, settings.realtime_replay_seconds)


def build_worker(
    db: Database, settings: Settings, *, realtime: Realtime | None = None
) -> BackgroundWorker:
    job_app = build_jobs(db)
    providers = build_providers(settings)
    context = build_worker_context(db, settings, providers=providers, realtime=realtime)
    nats = (
        NatsPublisher(
            settings.nats_url,
            stream=settings.nats_stream,
            subject_prefix=settings.nats_subject_prefix,
        )
        if settings.nats_url
        else None
    )
    return BackgroundWorker(
        db, job_app, build_event_bus(job_app, nats), providers, context=context, nats=nats
    )


def build_worker_context(
    db: Database,
    settings: Settings,
    *,
    providers: dict[Channel, Provider] | None = None,
    realtime: Realtime | None = None,
) -> dict[str, Any]:
    """What jobs find in their context. `realtime`: the API's own when the worker runs inside
    it (`serve`); a separate worker process reaches the API processes through Redis."""
    if realtime is None:
        realtime = worker_realtime(
            settings.redis_url, channel=settings.realtime_channel, window=replay_window(settings)
        )
    return jobs.worker_context(
        db,
        storage=build_storage(settings),
        settings=settings,
        exporters={d.name: d.export for d in DOMAINS if d.export is not None},
        providers=providers if providers is not None else build_providers(settings),
        web_push=WebPush.from_settings(settings),
        vault=build_vault(db, settings),
        realtime=realtime,
    )


def create_app(settings: Settings | None = None, *, run_background: bool = False) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url and not settings.database_app_url:
        raise RuntimeError("DATABASE_URL is not set; `mindspace serve` starts an embedded one")
    realtime_server = RealtimeServer(
        redis_url=settings.redis_url,
        channel=settings.realtime_channel,
        window=replay_window(settings),
        cors_origins=settings.cors_origins,
        session_check_seconds=settings.realtime_session_check_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        revocations: Revocations = RedisRevocations(redis) if redis else MemoryRevocations()
        tokens = build_tokens(settings, revocations)
        app.state.settings = settings
        app.state.db = db
        app.state.redis = redis
        app.state.rate_limiter = RateLimiter(settings.redis_url)
        app.state.cache = RedisCache(redis) if redis else MemoryCache()
        app.state.tokens = tokens
        app.state.storage = build_storage(settings)
        app.state.vault = build_vault(db, settings)
        app.state.oidc = OidcProviders.from_settings(
            OidcSettings(), public_base_url=settings.public_base_url
        )
        app.state.authenticator = tokens
        rooms = RoomRegistry()
        for domain in DOMAINS:
            if domain.rooms is not None:
                domain.rooms(rooms, db)
        realtime_server.start(tokens, rooms)
        app.state.realtime = realtime_server.realtime
        app.state.realtime_rooms = rooms
        background = (
            asyncio.create_task(build_worker(db, settings, realtime=realtime_server.realtime).run())
            if run_background
            else None
        )
        # Everything built so far lives as long as the process: out of the collector's sight,
        # full collections no longer walk the whole app and its libraries again and again
        # (measured at 64 connections: GET /users/me 0.75 -> 0.58 ms CPU per request).
        gc.collect()
        gc.freeze()
        try:
            # The safety gate's learned layer loads in the background: no request waits for
            # the model, and readiness holds traffic back until it is in.
            async with safety_service.classifier_while_running(settings) as loading:
                app.state.warm_up = [loading]
                yield
        finally:
            gc.unfreeze()
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            await realtime_server.close()
            await db.dispose()
            await app.state.storage.aclose()
            await app.state.rate_limiter.close()
            if redis is not None:
                await redis.aclose()

    app = FastAPI(
        title="Mindspace API",
        version=__version__,
        summary="Journal, mood, companion, community, experts and store: one private account.",
        lifespan=lifespan,
        # Prometheus (/metrics), the JSON access log and request ids already cover this; FastAPI's
        # built-in OpenTelemetry wrapper cost about a fifth of a trivial request when measured.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    _install_database_errors(app)

    api = APIRouter(prefix=API_PREFIX)
    for domain in DOMAINS:
        if domain.router is not None:
            api.include_router(domain.router)
    # Probes first: a load balancer calls them often, and routing tries routes in order.
    app.router.routes[:0] = [
        *health.routes,
        Route("/metrics", metrics.metrics_endpoint, methods=["GET"], include_in_schema=False),
    ]
    include_flat(app.router, api)
    include_flat(app.router, well_known)
    app.mount("/socket.io", realtime_server.asgi)

    # Added innermost first: the request context wraps everything, so even a 413 or a CORS
    # refusal carries the request id and the security headers.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        per_path={API_PREFIX + p: n for d in DOMAINS for p, n in d.body_limits.items()},
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Idempotent-Replayed"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, hsts=settings.is_production)
    return app


def _install_database_errors(app: FastAPI) -> None:
    """A database that is down or overloaded is a 503 with Retry-After, quickly, not a hang
    and not a 500."""

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable", extra={"error": repr(exc)})
        return problem_response(
            status=503,
            type_slug=ServiceUnavailable.type,
            title=ServiceUnavailable.title,
            detail="We cannot reach our database right now. Please try again in a moment.",
            headers={"Retry-After": "5"},
        )

    # Network failures only: asyncpg raises ConnectionRefusedError, TimeoutError or gaierror
    # un-wrapped when it cannot connect. Other OSErrors (a file, a directory) are bugs: 500.
    for exc_type in (
        OperationalError,
        InterfaceError,
        PoolTimeoutError,
        ConnectionError,
        TimeoutError,
        socket.gaierror,
    ):
        app.add_exception_handler(exc_type, unavailable)

"""Settings from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development defaults that must never reach production; the validator below refuses them there.
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0000000000000000"  # noqa: S105 - refused in production


class Environment(enum.StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MINDSPACE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: Environment = Environment.development
    # The owner connection: migrations, and the explicit system scope. When unset, `serve`
    # starts an embedded PostgreSQL under `data_dir`.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "MINDSPACE_DATABASE_URL")
    )
    # The application's own connection: a role without BYPASSRLS that owns no table, so
    # row-level security applies to every query the API makes. Derived from `database_url`
    # (same server, role `database_app_role`) when unset.
    database_app_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_APP_URL", "MINDSPACE_DATABASE_APP_URL"),
    )
    database_app_role: str = "mindspace_app"
    database_app_password: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_statement_timeout_ms: int = Field(default=15_000, ge=100)
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "MINDSPACE_REDIS_URL")
    )
    nats_url: str | None = Field(
        default=None, validation_alias=AliasChoices("NATS_URL", "MINDSPACE_NATS_URL")
    )
    # Events go to `<prefix>.<domain>.<event>` in this stream (created if missing); one NATS
    # may serve several deployments (staging beside production) under different prefixes.
    nats_stream: str = Field(default="MINDSPACE", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    nats_subject_prefix: str = Field(
        default="mindspace", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )

    data_dir: Path = Path(".mindspace")
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    # PEM-encoded P-256 private keys; the first signs, the rest only verify (key rotation).
    # Unset in development: a key is generated under `data_dir/keys`.
    jwt_private_keys: list[SecretStr] = []
    # Envelope encryption (platform.crypto): key id -> base64 of 32 random bytes, as a JSON
    # object. The first wraps new data keys; the others only unwrap until
    # `mindspace rotate-master-key` has re-wrapped everything under the first.
    # Unset in development: one is generated under `data_dir/keys`.
    master_keys: dict[str, SecretStr] = {}
    public_base_url: str = "http://127.0.0.1:8000"
    cors_origins: Annotated[list[str], NoDecode] = []
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    log_level: str = "INFO"
    log_json: bool = True
    rate_limit_default: str = "120/minute"
    # How long an Idempotency-Key's first response is kept and replayed (platform.idempotency).
    idempotency_ttl_hours: int = Field(default=24, ge=1, le=7 * 24)
    seed_demo_data: bool = True
    # SMS through Twilio when the account SID is set; otherwise texts go to the development
    # sink (stored and printed), which production refuses.
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    # Files go to this S3-compatible bucket when it is set; otherwise to `data_dir/media`.
    storage_s3_bucket: str | None = None
    storage_s3_endpoint_url: str | None = None  # MinIO, R2, Ceph…; unset for AWS itself
    storage_s3_region: str | None = None
    storage_s3_access_key_id: str | None = None
    storage_s3_secret_access_key: SecretStr | None = None
    # Only for buckets served publicly (a CDN); unset keeps every file behind the API.
    storage_public_base_url: str | None = None
    # Email over SMTP when the host is set (identity's messages and notifications alike);
    # otherwise emails go to the development sink. `starttls` requires the upgrade, `tls` is
    # TLS from the first byte (port 465), `none` is for a relay on the same host only.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Mindspace <no-reply@mindspace.local>"
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Web Push (VAPID, RFC 8292): the application server's P-256 private key, PEM or the raw
    # 32 bytes base64url-encoded; push notifications are off while it is unset.
    vapid_private_key: SecretStr | None = None
    vapid_subject: str = Field(
        default="mailto:support@mindspace.local", pattern=r"^(mailto:|https:)"
    )
    # Push endpoints on loopback or private addresses, or over plain http: only for tests and
    # local development (otherwise any member could make the worker POST inside our network).
    push_allow_private_endpoints: bool = False
    # Admin broadcasts: recipients per batch, and the pause between batches (the throttle).
    broadcast_batch_size: int = Field(default=500, ge=1, le=10_000)
    broadcast_pause_s: int = Field(default=1, ge=0, le=3600)
    # Socket.IO: the Redis pub/sub channel every API and worker process shares (also the
    # prefix of the replay keys), and how much of each person's recent events is kept for
    # clients that reconnect.
    realtime_channel: str = Field(default="mindspace-realtime", min_length=1, max_length=100)
    realtime_replay_events: int = Field(default=500, ge=1, le=10_000)
    realtime_replay_seconds: int = Field(default=24 * 3600, ge=1, le=7 * 24 * 3600)
    # How often a connected socket's token is checked again (expiry, sign-out).
    realtime_session_check_seconds: float = Field(default=60.0, gt=0, le=900)
    # The companion's reply engine: scripted needs no network; a model engine always falls back
    # to it. `companion_model_base_url`: an OpenAI-compatible /v1 base, or Anthropic's API.
    companion_engine: Literal["scripted", "openai", "anthropic"] = "scripted"
    # Sentence embeddings (platform.embeddings): `auto` uses the MiniLM model when the `ai` extra
    # is installed; `off` keeps every caller on its dependency-free path.
    embeddings: Literal["auto", "off"] = "auto"
    companion_model_base_url: str | None = None
    companion_model: str | None = None
    companion_model_api_key: SecretStr | None = None
    companion_model_timeout_s: float = Field(default=20.0, gt=0, le=120)
    # Per person; a message assessed as high risk is never counted or refused.
    companion_rate_limit: str = "20/minute"
    companion_free_daily_messages: int = Field(default=100, ge=1)
    # How long a model's answer to a prompt template without free text is kept for the same
    # person and request (on Redis when REDIS_URL is set); a hit costs no model call, no credit.
    companion_template_cache_ttl_s: int = Field(default=24 * 3600, ge=1, le=30 * 24 * 3600)
    # Days a crisis alert keeps the excerpt of what the person wrote once it is resolved (the
    # responder's follow-up window); then only the alert's metadata remains. 0: at resolution.
    crisis_excerpt_retention_days: int = Field(default=30, ge=0, le=3650)

    @model_validator(mode="before")
    @classmethod
    def _split_cors(cls, data: dict[str, object]) -> dict[str, object]:
        origins = data.get("cors_origins")
        if isinstance(origins, str):
            data["cors_origins"] = [o.strip() for o in origins.split(",") if o.strip()]
        return data

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> Settings:
        if self.environment is not Environment.production:
            return self
        problems = []
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            problems.append("MINDSPACE_SECRET_KEY is the development default")
        elif len(self.secret_key.get_secret_value()) < 32:
            problems.append("MINDSPACE_SECRET_KEY is shorter than 32 characters")
        if not self.database_url:
            problems.append("DATABASE_URL is required (no embedded database in production)")
        if not self.database_app_url:
            problems.append("DATABASE_APP_URL is required: the API must not log in as the owner")
        if not (self.twilio_account_sid and self.twilio_auth_token):
            problems.append("MINDSPACE_TWILIO_* must be set: texts would only be printed")
        if not self.jwt_private_keys:
            problems.append("MINDSPACE_JWT_PRIVATE_KEYS is required (no generated keys)")
        if not self.master_keys:
            problems.append("MINDSPACE_MASTER_KEYS is required (no generated master key)")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.production


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

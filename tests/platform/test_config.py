"""Settings: production refuses development defaults; values parse from the environment."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from mindspace.identity.tokens import generate_pem
from mindspace.platform.config import Environment, Settings

OWNER_URL = "postgresql://mindspace@db.internal:5432/mindspace"
APP_URL = "postgresql://mindspace_app:s3cret@db.internal:5432/mindspace"
LONG_SECRET = "k" * 48
MASTER_KEY = base64.b64encode(b"m" * 32).decode()

_ENV_NAMES = (
    "DATABASE_URL",
    "DATABASE_APP_URL",
    "REDIS_URL",
    "NATS_URL",
    "MINDSPACE_DATABASE_URL",
    "MINDSPACE_DATABASE_APP_URL",
    "MINDSPACE_ENVIRONMENT",
    "MINDSPACE_SECRET_KEY",
    "MINDSPACE_JWT_PRIVATE_KEYS",
    "MINDSPACE_MASTER_KEYS",
    "MINDSPACE_CORS_ORIGINS",
    "MINDSPACE_MAX_BODY_BYTES",
    "MINDSPACE_TWILIO_ACCOUNT_SID",
    "MINDSPACE_TWILIO_AUTH_TOKEN",
    "MINDSPACE_TWILIO_FROM_NUMBER",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what each test sets: no variables from the shell, no `.env` from the checkout."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": Environment.production,
        "secret_key": SecretStr(LONG_SECRET),
        "database_url": OWNER_URL,
        "database_app_url": APP_URL,
        "jwt_private_keys": [SecretStr(generate_pem().decode())],
        "master_keys": {"k1": SecretStr(MASTER_KEY)},
        "twilio_account_sid": "AC" + "0" * 32,
        "twilio_auth_token": SecretStr("twilio-token"),
        "twilio_from_number": "+15005550006",
    }
    values.update(overrides)
    return Settings.model_validate(values)


def test_production_with_development_defaults_is_refused_naming_every_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(environment=Environment.production)
    message = str(caught.value)
    assert "refusing to start in production" in message
    assert "MINDSPACE_SECRET_KEY is the development default" in message
    assert "DATABASE_URL is required" in message
    assert "DATABASE_APP_URL is required" in message
    assert "MINDSPACE_JWT_PRIVATE_KEYS is required" in message
    assert "MINDSPACE_MASTER_KEYS is required" in message


def test_production_with_real_secrets_is_accepted() -> None:
    settings = _production()
    assert settings.is_production
    assert settings.secret_key.get_secret_value() == LONG_SECRET
    assert settings.database_app_url == APP_URL
    assert len(settings.jwt_private_keys) == 1


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"secret_key": SecretStr("short-but-not-default")}, "shorter than 32 characters"),
        ({"database_url": None}, "DATABASE_URL is required"),
        ({"database_app_url": None}, "DATABASE_APP_URL is required"),
        ({"jwt_private_keys": []}, "MINDSPACE_JWT_PRIVATE_KEYS is required"),
        ({"twilio_account_sid": None}, "MINDSPACE_TWILIO_* must be set"),
        ({"master_keys": {}}, "MINDSPACE_MASTER_KEYS is required"),
    ],
)
def test_production_names_the_one_missing_piece(overrides: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _production(**overrides)
    (error,) = caught.value.errors()
    problems = str(error["msg"]).split("refusing to start in production: ")[1].split("; ")
    assert len(problems) == 1
    assert problem in problems[0]


def test_production_is_read_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINDSPACE_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="refusing to start in production"):
        Settings()
    monkeypatch.setenv("MINDSPACE_SECRET_KEY", LONG_SECRET)
    monkeypatch.setenv("DATABASE_URL", OWNER_URL)
    monkeypatch.setenv("DATABASE_APP_URL", APP_URL)
    monkeypatch.setenv("MINDSPACE_JWT_PRIVATE_KEYS", json.dumps([generate_pem().decode()]))
    monkeypatch.setenv("MINDSPACE_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("MINDSPACE_TWILIO_AUTH_TOKEN", "twilio-token")
    monkeypatch.setenv("MINDSPACE_TWILIO_FROM_NUMBER", "+15005550006")
    monkeypatch.setenv("MINDSPACE_MASTER_KEYS", json.dumps({"2026-12": MASTER_KEY}))
    settings = Settings()
    assert settings.is_production
    assert settings.master_keys["2026-12"].get_secret_value() == MASTER_KEY
    assert settings.database_url == OWNER_URL


@pytest.mark.parametrize("environment", [Environment.development, Environment.test])
def test_development_defaults_are_fine_outside_production(environment: Environment) -> None:
    settings = Settings(environment=environment)
    assert not settings.is_production
    assert settings.database_url is None


def test_cors_origins_parse_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINDSPACE_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("https://only.example", ["https://only.example"]),
        (" https://a.example ,, https://b.example, ", ["https://a.example", "https://b.example"]),
        ("", []),
    ],
)
def test_cors_origins_ignore_blanks(
    monkeypatch: pytest.MonkeyPatch, raw: str, parsed: list[str]
) -> None:
    monkeypatch.setenv("MINDSPACE_CORS_ORIGINS", raw)
    assert Settings().cors_origins == parsed


def test_database_url_is_read_without_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", OWNER_URL)
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/0")
    settings = Settings()
    assert settings.database_url == OWNER_URL
    assert settings.redis_url == "redis://cache.internal:6379/0"


def test_an_implausible_body_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINDSPACE_MAX_BODY_BYTES", "10")
    with pytest.raises(ValidationError, match="max_body_bytes"):
        Settings()

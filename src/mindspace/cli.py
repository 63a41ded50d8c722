"""The `mindspace` command."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from typing import Annotated, Any

import typer

from mindspace.platform.config import Settings, get_settings
from mindspace.platform.logging import configure_logging
from mindspace.safety.cli import app as safety_app

app = typer.Typer(
    help="Mindspace: serve the API, run workers, migrate and seed the database.",
    no_args_is_help=True,
    add_completion=False,
)

app.add_typer(safety_app, name="safety")

HostOpt = Annotated[str, typer.Option(help="Interface to listen on")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on")]


def _settings_with_database(*, allow_embedded: bool) -> tuple[Settings, Any]:
    """Settings with a database URL; starts the embedded PostgreSQL when none is configured."""
    settings = get_settings()
    if settings.database_url or settings.database_app_url:
        return settings, None
    if not allow_embedded or settings.is_production:
        typer.echo("DATABASE_URL is not set.", err=True)
        raise typer.Exit(2)
    from mindspace.platform import embedded

    url, handle = embedded.start(settings.data_dir)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    return get_settings(), handle


def _migrate(settings: Settings) -> None:
    from mindspace.platform.migrate import run_upgrade_sync

    if not settings.database_url:
        typer.echo("migrations need DATABASE_URL (the owner connection)", err=True)
        raise typer.Exit(2)
    password = settings.database_app_password
    run_upgrade_sync(
        settings.database_url,
        app_role=settings.database_app_role,
        app_password=password.get_secret_value() if password else None,
    )


def _seed(settings: Settings) -> list[str]:
    from mindspace.app import DOMAINS, create_app
    from mindspace.platform.domains import run_seeders

    async def run() -> list[str]:
        # A one-off command assesses nothing: no embedding model to load and wait for.
        fastapi_app = create_app(settings.model_copy(update={"embeddings": "off"}))
        async with fastapi_app.router.lifespan_context(fastapi_app):
            return await run_seeders(fastapi_app.state.db, DOMAINS)

    return asyncio.run(run())


@app.command()
def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000) -> None:
    """All in one, for a laptop or a demo: embedded database if none is configured,
    migrations, demo data, the API and the event relay in one process."""
    import uvicorn

    configure_logging(get_settings().log_level, json=get_settings().log_json)
    settings, _embedded = _settings_with_database(allow_embedded=True)
    _migrate(settings)
    if settings.seed_demo_data and not settings.is_production:
        lines = _seed(settings)
        typer.echo("\nDemo accounts (development only):\n" + "\n".join(lines))
    typer.echo(f"\nMindspace is up: http://{host}:{port}/docs\n")
    from mindspace.app import create_app

    uvicorn.run(create_app(settings, run_background=True), host=host, port=port, log_config=None)


@app.command()
def api(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    workers: Annotated[int, typer.Option(help="Processes to run")] = 1,
) -> None:
    """The HTTP API only (production: several behind a load balancer). Needs DATABASE_URL."""
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    _settings_with_database(allow_embedded=False)
    uvicorn.run(
        "mindspace.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


@app.command()
def worker() -> None:
    """Background work: the event relay, message delivery and the job queue."""
    from mindspace.app import build_worker
    from mindspace.platform.db import Database

    configure_logging(get_settings().log_level, json=get_settings().log_json)
    settings, _ = _settings_with_database(allow_embedded=False)

    async def run() -> None:
        db = Database.from_settings(settings)
        background = build_worker(db, settings)
        try:
            await background.run()
        finally:
            await background.context["realtime"].aclose()
            await db.dispose()

    asyncio.run(run())


@app.command()
def migrate() -> None:
    """Apply every pending migration (creates the database and the app role if needed)."""
    configure_logging(get_settings().log_level, json=False)
    settings, _ = _settings_with_database(allow_embedded=False)
    _migrate(settings)
    typer.echo("database is at the latest migration")


@app.command()
def seed() -> None:
    """Add the demo content (idempotent) and print the demo sign-in details."""
    settings, _ = _settings_with_database(allow_embedded=False)
    if settings.is_production:
        typer.echo("refusing to seed demo accounts in production", err=True)
        raise typer.Exit(2)
    typer.echo("\n".join(_seed(settings)))


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Argument(help="The admin's email address")],
    display_name: Annotated[str, typer.Option(help="Name shown to other staff")] = "Admin",
) -> None:
    """Create an admin account; the password comes from the terminal or MINDSPACE_ADMIN_PASSWORD."""
    from mindspace.identity import passwords

    password = os.environ.get("MINDSPACE_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    if not passwords.MIN_LENGTH <= len(password) <= passwords.MAX_LENGTH:
        typer.echo(
            f"password must be {passwords.MIN_LENGTH}-{passwords.MAX_LENGTH} characters", err=True
        )
        raise typer.Exit(2)
    settings, _ = _settings_with_database(allow_embedded=False)

    async def run() -> bool:
        from mindspace.app import create_app
        from mindspace.identity import service
        from mindspace.platform.audit import Origin
        from mindspace.platform.db import DbScope
        from mindspace.platform.security import Role

        fastapi_app = create_app(settings.model_copy(update={"embeddings": "off"}))
        async with fastapi_app.router.lifespan_context(fastapi_app):
            async with fastapi_app.state.db.session(None, scope=DbScope.auth) as session:
                created = await service.register(
                    session,
                    email=email,
                    password=password,
                    display_name=display_name,
                    origin=Origin(user_agent="mindspace create-admin"),
                    roles=(Role.member, Role.admin),
                )
        return created is not None

    from mindspace.platform.errors import AppError

    try:
        created = asyncio.run(run())
    except AppError as refused:  # a common password, an invalid email…
        typer.echo(f"not created: {refused.detail or refused.title}", err=True)
        raise typer.Exit(2) from None
    if not created:
        typer.echo(f"an account with {email} already exists; nothing changed", err=True)
        raise typer.Exit(1)
    typer.echo(f"admin {email} created")


@app.command("rotate-master-key")
def rotate_master_key() -> None:
    """Re-wrap every person's data key under the first of MINDSPACE_MASTER_KEYS; sealed data
    is untouched. Run it once every process has the new key list; remove an old key only
    after it."""
    settings, _ = _settings_with_database(allow_embedded=False)

    async def run() -> tuple[int, str]:
        from mindspace.app import build_vault
        from mindspace.platform.db import Database

        db = Database.from_settings(settings)
        try:
            vault = build_vault(db, settings)
            return await vault.rotate(db), vault.master.active_id
        finally:
            await db.dispose()

    from mindspace.platform.crypto import DecryptionError

    try:
        count, key_id = asyncio.run(run())
    except DecryptionError as missing:  # an old key was removed before rotating past it
        typer.echo(f"not rotated: {missing}; add that key back and run again", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{count} data key(s) re-wrapped; every data key is now under master key {key_id}")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())

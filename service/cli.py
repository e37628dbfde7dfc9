"""Command line: `dev` (the whole stack), `api`, `worker`, `migrate`, `token`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from scheduler.auth import issue_token
from scheduler.db import migrate as apply_migrations
from scheduler.devstack import EmbeddedPostgres, TemporalDevServer, ensure_port_free
from scheduler.logs import configure_logging
from scheduler.settings import Settings
from scheduler.temporal import connect, ensure_search_attributes

app = typer.Typer(
    help="workflow-scheduler: triggers and scheduling on Temporal.",
    no_args_is_help=True,
)
logger = logging.getLogger("scheduler.cli")


def _settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


@app.command()
def migrate() -> None:
    """Apply the SQL migrations and register the Temporal search attributes."""
    configure_logging()
    settings = _settings()

    async def main() -> None:
        applied = await apply_migrations(settings.require_database_url())
        typer.echo(f"migrations applied: {applied or 'none (up to date)'}")
        client = await connect(settings)
        added = await ensure_search_attributes(client, settings.TEMPORAL_NAMESPACE)
        typer.echo(f"search attributes added: {added or 'none (all present)'}")

    asyncio.run(main())


@app.command()
def worker() -> None:
    """Run a Temporal worker against TEMPORAL_ADDRESS and DATABASE_URL."""
    from service.worker import run_worker

    settings = _settings()
    configure_logging(settings.DEBUG)
    asyncio.run(_until_signal(lambda stop: run_worker(settings, stop)))


@app.command()
def api() -> None:
    """Run the REST API and the ingress endpoints (with an outbox relay)."""
    from api.main import create_app

    settings = _settings()
    configure_logging(settings.DEBUG)
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_config=None,
        access_log=False,
    )


@app.command()
def token(
    user: Annotated[
        str, typer.Argument(help="the user id (the token's sub)", metavar="USER")
    ],
    admin: Annotated[bool, typer.Option(help="grant the admin role")] = False,
    state_dir: Annotated[Path, typer.Option(envvar="STATE_DIR")] = Path(".state"),
) -> None:
    """Print a bearer token signed with JWT_SECRET (or the dev stack's secret)."""
    secret = os.environ.get("JWT_SECRET") or _dev_secret(state_dir, create=False)
    settings = _settings(JWT_SECRET=secret, DEV_MODE=True)
    typer.echo(issue_token(settings, user, roles=["admin"] if admin else []))


def _dev_secret(state_dir: Path, *, create: bool = True) -> str:
    path = state_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    if not create:
        raise typer.BadParameter(
            f"no {path}: start the dev stack once, or set JWT_SECRET"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(secrets.token_hex(32))
    path.chmod(0o600)
    return path.read_text().strip()


async def _until_signal(run: object) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(stop)  # type: ignore[operator]


@app.command()
def dev(
    port: Annotated[int, typer.Option(envvar="PORT", help="API port")] = 8003,
    temporal_port: Annotated[int, typer.Option(envvar="TEMPORAL_PORT")] = 7233,
    ui_port: Annotated[int, typer.Option(envvar="TEMPORAL_UI_PORT")] = 8233,
    state_dir: Annotated[Path, typer.Option(envvar="STATE_DIR")] = Path(".state"),
    host: Annotated[str, typer.Option(envvar="HOST")] = "127.0.0.1",
) -> None:
    """Start everything here: Temporal, PostgreSQL, migrations, worker and API."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(os.environ.get("DEBUG", "").lower() in ("1", "true"))
    secret = os.environ.get("JWT_SECRET") or _dev_secret(state_dir)

    temporal = TemporalDevServer(
        port=temporal_port,
        ui_port=ui_port,
        db_file=state_dir / "temporal.sqlite",
        log_file=state_dir / "temporal.log",
    )
    postgres: EmbeddedPostgres | None = None
    database_url = os.environ.get("DATABASE_URL")
    try:
        ensure_port_free(host if host != "0.0.0.0" else "127.0.0.1", port, "the API")
        temporal.start()
        if not database_url:
            postgres = EmbeddedPostgres(state_dir / "postgres")
            database_url = postgres.start()
        settings = _settings(
            DEV_MODE=True,
            JWT_SECRET=secret,
            DATABASE_URL=database_url,
            TEMPORAL_ADDRESS=temporal.address,
            PORT=port,
            HOST=host,
            STATE_DIR=state_dir,
        )
        # uvicorn re-raises the Ctrl-C it handled once it has shut down.
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run_dev(settings, ui_port))
    except (RuntimeError, TimeoutError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        temporal.stop()
        if postgres is not None:
            postgres.stop()
        typer.echo(f"stopped (state kept in {state_dir})")


async def _run_dev(settings: Settings, ui_port: int) -> None:
    from api.main import create_app
    from service.worker import run_worker

    await apply_migrations(settings.require_database_url())
    stop = asyncio.Event()
    worker_task = asyncio.create_task(run_worker(settings, stop))
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.HOST,
            port=settings.PORT,
            log_config=None,
            access_log=False,
        )
    )
    shown_host = "127.0.0.1" if settings.HOST == "0.0.0.0" else settings.HOST
    base = f"http://{shown_host}:{settings.PORT}"
    token_value = issue_token(settings, "dev-user", roles=["admin"])
    banner = (
        "\nworkflow-scheduler dev stack is up\n"
        f"  API          {base}\n"
        f"  OpenAPI docs {base}/docs\n"
        f"  Temporal UI  http://127.0.0.1:{ui_port}\n"
        f"  Temporal     {settings.TEMPORAL_ADDRESS} "
        f"(namespace {settings.TEMPORAL_NAMESPACE})\n"
        f"  PostgreSQL   {settings.DATABASE_URL}\n"
        f"  dispatch     {settings.dispatch_mode.value}\n"
        f"  dev token    {token_value}\n"
        "  (user dev-user, admin; `scripts/run token USER` prints another)\n"
        "Ctrl-C stops everything.\n"
    )

    async def announce() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.05)
        print(banner, flush=True)

    announcer = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        announcer.cancel()
        stop.set()
        with contextlib.suppress(Exception):
            await worker_task


if __name__ == "__main__":
    app()

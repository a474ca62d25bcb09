"""`firstword serve`: run the web app (console, API, public pages) under uvicorn or granian."""

from __future__ import annotations

import enum
import multiprocessing
import os
from pathlib import Path
from typing import Any, cast

import typer
import uvicorn
from rich.panel import Panel
from rich.table import Table
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from firstword.clisupport import (
    console,
    data_dir_option,
    get_context,
    handle_errors,
    set_overrides,
    settings,
    transaction,
)
from firstword.context import Context, build_context
from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.core.errors import InvalidInput
from firstword.incidents import service as incidents
from firstword.workers.background import start_background_worker

# uvicorn imports the app itself (import string + factory) so that every worker process and
# the reloader build their own context from the same FIRSTWORD_* settings.
APP_FACTORY = "firstword.web.app:app_from_environment"
GRANIAN_FACTORY = "firstword.web.cli:granian_app"
# How `serve` hands --forwarded-allow-ips to granian's worker processes (uvicorn takes it as an
# argument; granian has no such option, so its factory adds uvicorn's proxy-headers layer).
FORWARDED_ALLOW_IPS_ENV = "FIRSTWORD_SERVE_FORWARDED_ALLOW_IPS"
PACKAGE_DIR = Path(__file__).resolve().parent.parent


class Server(enum.StrEnum):
    UVICORN = "uvicorn"
    GRANIAN = "granian"


def _prepare() -> tuple[int, Path]:
    """Migrate, bring the component catalogue up to date; return (active admins, data dir)."""
    context = get_context()  # runs the migrations
    settings = context.settings
    with transaction() as session:
        incidents.ensure_component_catalogue(
            session,
            clock=context.clock,
            actor=system_actor("serve"),
            user_file=settings.user_components_file,
        )
        admins = auth.count_active_admins(session)
    return admins, settings.data_dir.resolve()


def _announce(
    host: str, port: int, workers: int, reload: bool, admins: int, data_dir: Path, database: str
) -> None:
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Console", f"{base}/console/")
    table.add_row("Staff API", f"{base}/api/v1")
    table.add_row("OpenAPI", f"{base}/api/openapi.json")
    table.add_row("Health", f"{base}/healthz  {base}/readyz")
    table.add_row("Data", str(data_dir))
    table.add_row("Database", database)
    mode = "reload on code changes" if reload else f"{workers} worker process(es)"
    console.print(Panel(table, title="firstword is serving", subtitle=mode, expand=False))
    if admins == 0:
        console.print(
            "[yellow]No admin user yet.[/yellow] Create one, then sign in at the console:\n"
            "  firstword users create --email you@example.com --name 'Your Name' --role admin",
            highlight=False,
        )


@handle_errors
def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Web processes. Each keeps its own rate-limit windows."
    ),
    reload: bool = typer.Option(
        False,
        "--reload/--no-reload",
        help="Restart when the code changes (development only; one process).",
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        "--forwarded-allow-ips",
        help="Reverse proxies whose X-Forwarded-For/-Proto headers are trusted "
        "(comma-separated addresses, or '*').",
    ),
    data_dir: Path | None = data_dir_option(),
    no_worker: bool = typer.Option(
        False,
        "--no-worker",
        help="Do not run the embedded outbox worker in this process (run `firstword worker` "
        "processes instead, as at scale).",
    ),
    access_log: bool = typer.Option(
        True,
        "--access-log/--no-access-log",
        help="Log every request. Under heavy public load logging costs more than answering; "
        "log at the reverse proxy or CDN instead.",
    ),
    server: Server = typer.Option(
        Server.UVICORN,
        "--server",
        case_sensitive=False,
        help="HTTP server: uvicorn, or granian (Rust HTTP layer: more requests per second "
        "for the public page and JSON on the same cores).",
    ),
) -> None:
    """Run the web app: staff console (/console), API (/api/v1) and public pages.

    Migrates the database and updates the component catalogue first, and runs an outbox
    worker in the background unless --no-worker."""
    if reload and workers > 1:
        raise InvalidInput("--reload", "cannot be combined with --workers above 1")
    if reload and server is Server.GRANIAN:
        raise InvalidInput("--reload", "works with --server uvicorn only")
    set_overrides(data_dir=data_dir)
    admins, resolved_dir = _prepare()
    # The factory reads settings from the environment: hand it the data directory chosen
    # here (--data-dir may have come from the command line, not the environment).
    os.environ["FIRSTWORD_DATA_DIR"] = str(resolved_dir)
    context = get_context()
    database = context.engine.url.render_as_string(hide_password=True)
    context.close()
    _announce(host, port, workers, reload, admins, resolved_dir, database)
    background = None if no_worker else start_background_worker(get_fresh_context())
    try:
        if server is Server.GRANIAN:
            _run_granian(host, port, workers, forwarded_allow_ips, access_log)
        else:
            _run_uvicorn(host, port, workers, reload, forwarded_allow_ips, access_log)
    finally:
        if background is not None:
            background.stop()


def get_fresh_context() -> Context:
    """A context of its own for the embedded worker thread (the CLI's was closed)."""
    return build_context(settings())


def _run_uvicorn(
    host: str, port: int, workers: int, reload: bool, forwarded_allow_ips: str, access_log: bool
) -> None:
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        reload_dirs=[str(PACKAGE_DIR)] if reload else None,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level="info",
        access_log=access_log,
        server_header=False,
    )


def _run_granian(
    host: str, port: int, workers: int, forwarded_allow_ips: str, access_log: bool
) -> None:
    from granian.constants import Interfaces
    from granian.server import Server as Granian

    os.environ[FORWARDED_ALLOW_IPS_ENV] = forwarded_allow_ips
    # Granian starts its workers with multiprocessing's default method, which is fork on
    # Linux; this process already runs the outbox worker's thread and database pool, which a
    # forked child must not inherit. Spawned workers build everything afresh (as uvicorn's).
    multiprocessing.set_start_method("spawn", force=True)
    Granian(
        GRANIAN_FACTORY,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=access_log,
        websockets=False,
    ).serve()


def granian_app() -> ASGIApp:
    """granian factory (`firstword.web.cli:granian_app`): the app as uvicorn serves it,
    including its trust of X-Forwarded-For/-Proto from --forwarded-allow-ips only."""
    from firstword.web.app import app_from_environment

    trusted = os.environ.get(FORWARDED_ALLOW_IPS_ENV, "127.0.0.1")
    app: Any = app_from_environment()  # uvicorn types ASGI apps more narrowly than Starlette
    return cast(ASGIApp, ProxyHeadersMiddleware(app, trusted_hosts=trusted))


def mount(app: typer.Typer) -> None:
    """Add `firstword serve` to the root app."""
    app.command("serve")(serve)

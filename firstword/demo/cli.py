"""`firstword demo`: generate the retailer, play the incident, then serve the console and API."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from firstword import clisupport
from firstword.context import build_context
from firstword.core.auth.passwords import MIN_LENGTH
from firstword.core.errors import FirstwordError
from firstword.core.settings import Settings
from firstword.demo import runner


def mount(app: typer.Typer) -> None:
    """Add `firstword demo` to the root app."""
    app.command("demo")(demo)


def demo(
    customers: int = typer.Option(
        runner.DEFAULT_CUSTOMERS,
        "--customers",
        min=1,
        max=5_000_000,
        help="How many customers to generate.",
    ),
    seed: int = typer.Option(
        runner.DEFAULT_SEED, "--seed", help="Seed for the synthetic data (same seed, same data)."
    ),
    fast: bool = typer.Option(
        False,
        "--fast",
        help=f"Small retailer ({runner.FAST_CUSTOMERS:,} customers) "
        "for tests and CI; overrides --customers.",
    ),
    no_serve: bool = typer.Option(
        False, "--no-serve", help="Stop after the scenario, leaving its data behind."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to serve on."),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="FIRSTWORD_DEMO_PASSWORD",
        help="Password for every demo staff user (default: random, printed).",
    ),
    reset: bool = typer.Option(
        False, "--reset", help="Replace an earlier demo in this data directory."
    ),
    yes: bool = typer.Option(
        False,
        "--yes",
        help="With --reset and FIRSTWORD_DATABASE_URL: really drop "
        "firstword's tables in that database.",
    ),
) -> None:
    """Play a scripted incident at a synthetic retailer, then serve the console and API."""
    console = Console()
    if password is not None and len(password) < MIN_LENGTH:
        console.print(f"[red]error:[/red] --password must be at least {MIN_LENGTH} characters")
        raise typer.Exit(2)
    settings = clisupport.settings()
    if "FIRSTWORD_MAIL_TRANSPORT" not in os.environ:
        # No mail server on a demo machine: e-mails are written to DATA_DIR/mail/ as .eml.
        settings = settings.model_copy(update={"mail_transport": "file"})
    options = runner.DemoOptions(
        customers=runner.FAST_CUSTOMERS if fast else customers,
        seed=seed,
        fast=fast,
        password=password,
        reset=reset,
        yes=yes,
    )
    try:
        result = runner.run_demo(settings, options, console=console, now=datetime.now(UTC))
    except FirstwordError as exc:
        console.print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    url = f"http://{host}:{port}"
    _print_credentials(console, result, url, serving=not no_serve)
    if not no_serve:
        _serve(settings, host, port)


def _print_credentials(
    console: Console, result: runner.DemoResult, url: str, *, serving: bool
) -> None:
    table = Table(show_header=True, box=None)
    table.add_column("sign in as")
    table.add_column("name")
    table.add_column("roles")
    for user in result.users.values():
        table.add_row(user.email, user.name, ", ".join(user.roles))
    origin = (
        "generated for this run (choose one with --password)"
        if result.password_generated
        else "as given with --password"
    )
    console.print(
        Panel.fit(
            table, title="Demo staff users", subtitle=f"password {origin}", border_style="cyan"
        )
    )
    console.print(f"Password for every demo user: [bold]{result.password}[/bold]", highlight=False)
    console.print(
        f"Data: {result.demo_dir} (Parquet) and {result.database} (incidents)", highlight=False
    )
    if serving and not _is_loopback(url):
        console.print(
            "[yellow]warning:[/yellow] serving beyond this machine; anyone who can reach it "
            "can sign in with the password above.",
            highlight=False,
        )
    if serving:
        console.print(
            f"Status page: [bold]{url}/[/bold]   Console: [bold]{url}/console[/bold]   "
            f"API: {url}/api/openapi.json   (Ctrl+C to stop)",
            highlight=False,
        )
    else:
        console.print(
            "Browse it later with [bold]firstword serve[/bold] on the same data directory."
        )


def _is_loopback(url: str) -> bool:
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from firstword.web.app import create_app
    from firstword.workers.background import start_background_worker

    context = build_context(settings)  # the real clock from here on: T+3d is in the past
    # The scenario queued events and messages; an embedded worker delivers them (e-mail goes
    # to DATA_DIR/mail/ when mail_transport is "file") as `firstword serve` does.
    worker = start_background_worker(build_context(settings))
    try:
        uvicorn.run(create_app(context), host=host, port=port, log_level="info")
    finally:
        worker.stop()
        context.close()

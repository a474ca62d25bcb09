"""The `firstword` command: mounts each domain's Typer app."""

from __future__ import annotations

from pathlib import Path

import typer

from firstword import __version__, admin_cli
from firstword.clisupport import set_overrides
from firstword.demo import cli as demo_cli
from firstword.incidents import cli as incidents_cli
from firstword.statuspage import cli as statuspage_cli
from firstword.web import cli as web_cli
from firstword.workers import cli as workers_cli

app = typer.Typer(
    name="firstword",
    help="firstword: tell customers first, tell the truth, keep telling them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        envvar="FIRSTWORD_DATA_DIR",
        help="Data directory (default ./firstword-data).",
    ),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    set_overrides(data_dir=data_dir)


app.add_typer(incidents_cli.app, name="incidents")
app.add_typer(statuspage_cli.app, name="statuspage")
admin_cli.mount(app)
web_cli.mount(app)
workers_cli.mount(app)
demo_cli.mount(app)


def main() -> None:
    app()

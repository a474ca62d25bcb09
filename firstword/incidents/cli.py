"""Placeholder: `firstword incidents ...`."""

import typer

app = typer.Typer(help="Open, update and inspect incidents.", no_args_is_help=True)

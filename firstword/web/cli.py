"""Placeholder: commands mounted on the root CLI."""

import typer


def mount(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""

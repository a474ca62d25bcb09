"""`firstword statuspage ...`: render the public site, export it as static files, and
schedule maintenance from the command line."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from firstword.clisupport import cli_actor, console, err_console, get_context, handle_errors
from firstword.core.db import transaction
from firstword.core.errors import InvalidInput
from firstword.statuspage import service as statuspage
from firstword.statuspage import signage_cli, snapshot
from firstword.statuspage.maintenance import MaintenanceRead, MaintenanceSchedule, MaintenanceStep

app = typer.Typer(
    help="The public status page: render, export as a static site, schedule maintenance.",
    no_args_is_help=True,
)
maintenance_app = typer.Typer(help="Announce and run scheduled maintenance.", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")
signage_cli.mount(app)  # `firstword statuspage signage REF`: in-store sign and till text


def _report(report: statuspage.RebuildReport) -> None:
    if not report.ok:
        for error in report.errors:
            err_console.print(f"[red]render failed:[/red] {escape(error)}", highlight=False)
        err_console.print("the previous snapshot is still being served")
        raise typer.Exit(1)
    console.print(
        f"status page rendered: {len(report.written)} file(s) changed, "
        f"{len(report.unchanged)} unchanged"
        + (f", not yet available: {', '.join(report.skipped)}" if report.skipped else ""),
        highlight=False,
    )


@app.command("rebuild")
@handle_errors
def rebuild() -> None:
    """Render the public site now (the worker does this after every public change)."""
    _report(statuspage.rebuild_now(get_context()))


def _export_once(dest: Path) -> statuspage.ExportReport:
    context = get_context()
    with transaction(context.sessionmaker) as session:
        return statuspage.export_site(session, dest)


def _latest() -> datetime | None:
    """When the snapshot last changed; renders it first when the day has changed (the
    uptime history gains a day at midnight UTC even when nothing else happens)."""
    context = get_context()
    with transaction(context.sessionmaker) as session:
        if snapshot.built_for_an_earlier_day(session, clock=context.clock):
            snapshot.rebuild(session, clock=context.clock, settings=context.settings)
        return statuspage.latest_change(session)


@app.command("export")
@handle_errors
def export(
    directory: Path = typer.Argument(
        ..., help="Where to write the site (created; replaced as a whole on each export)."
    ),
    watch: bool = typer.Option(
        False, "--watch", help="Keep running and export again whenever the snapshot changes."
    ),
    interval: float = typer.Option(
        5.0, "--interval", min=0.2, help="With --watch: seconds between checks for changes."
    ),
) -> None:
    """Write the whole public site (page per language, JSON, feeds, banner) as static files
    for hosting apart from the main systems. Renders first, so the export is current."""
    report = statuspage.rebuild_now(get_context())
    if not report.ok:
        err_console.print(
            "[yellow]rendering failed; exporting the last good snapshot:[/yellow] "
            + escape("; ".join(report.errors)),
            highlight=False,
        )
    result = _export_once(directory)
    console.print(
        f"exported {result.files} files ({result.bytes:,} bytes, languages "
        f"{', '.join(result.languages) or 'none yet'}) to {escape(str(result.directory))}",
        highlight=False,
    )
    if not watch:
        return
    seen = result.snapshot_at
    try:
        with console.status("", spinner="dots") as status:
            while True:
                stamp = seen.isoformat(timespec="seconds") if seen else "never"
                status.update(
                    f"watching for changes every {interval:g}s (snapshot of {stamp}); Ctrl-C stops"
                )
                time.sleep(interval)
                try:
                    latest = _latest()
                except SQLAlchemyError as exc:  # the database may be down; the export stays
                    status.update(f"cannot read the snapshot ({type(exc).__name__}); retrying")
                    continue
                if latest is not None and latest != seen:
                    result = _export_once(directory)
                    seen = result.snapshot_at
                    console.print(
                        f"re-exported {result.files} files (snapshot of "
                        f"{seen.isoformat(timespec='seconds') if seen else '?'})",
                        highlight=False,
                    )
    except KeyboardInterrupt:
        console.print("stopped watching")


# --- maintenance ----------------------------------------------------------------------------


def _show(item: MaintenanceRead) -> None:
    console.print(
        f"{item.ref} [bold]{escape(item.title)}[/bold] — {item.status.value.replace('_', ' ')}, "
        f"{item.scheduled_for:%Y-%m-%d %H:%M} – {item.scheduled_until:%Y-%m-%d %H:%M} UTC"
        + (f"; components: {escape(', '.join(item.components))}" if item.components else ""),
        highlight=False,
    )


@maintenance_app.command("schedule")
@handle_errors
def schedule(
    title: str = typer.Option(..., "--title", help="What customers will read."),
    start: str = typer.Option(..., "--from", help="Start, ISO 8601 with zone (…T02:00Z)."),
    end: str = typer.Option(..., "--until", help="End, ISO 8601 with zone."),
    component: list[str] | None = typer.Option(
        None, "--component", help="Affected component key (repeatable)."
    ),
    message: str = typer.Option("", "--message", help="Details for customers."),
) -> None:
    """Announce planned maintenance."""
    try:
        data = MaintenanceSchedule.model_validate(
            {
                "title": title,
                "body": message,
                "components": component or [],
                "scheduled_for": start,
                "scheduled_until": end,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = {"scheduled_for": "--from", "scheduled_until": "--until", "body": "--message"}
        name = str(first["loc"][0]) if first["loc"] else "input"
        raise InvalidInput(field.get(name, f"--{name}"), first["msg"]) from None
    context = get_context()
    with transaction(context.sessionmaker) as session:
        item = statuspage.schedule_maintenance(
            session, clock=context.clock, actor=cli_actor(), data=data
        )
    _show(item)


def _step(verb: str, ref: str, message: str) -> None:
    context = get_context()
    action = {
        "start": statuspage.start_maintenance,
        "verify": statuspage.verify_maintenance,
        "complete": statuspage.complete_maintenance,
        "cancel": statuspage.cancel_maintenance,
    }[verb]
    with transaction(context.sessionmaker) as session:
        item = action(
            session,
            clock=context.clock,
            actor=cli_actor(),
            ref=ref,
            data=MaintenanceStep(body=message),
        )
    _show(item)


REF = typer.Argument(..., help="The maintenance, e.g. MNT-2026-0001.")
MESSAGE = typer.Option("", "--message", help="Public message (a standard one if empty).")


@maintenance_app.command("start")
@handle_errors
def start_cmd(ref: str = REF, message: str = MESSAGE) -> None:
    """Mark maintenance as in progress (its components show under maintenance)."""
    _step("start", ref, message)


@maintenance_app.command("verify")
@handle_errors
def verify_cmd(ref: str = REF, message: str = MESSAGE) -> None:
    """Work done, checking the results."""
    _step("verify", ref, message)


@maintenance_app.command("complete")
@handle_errors
def complete_cmd(ref: str = REF, message: str = MESSAGE) -> None:
    """Maintenance completed."""
    _step("complete", ref, message)


@maintenance_app.command("cancel")
@handle_errors
def cancel_cmd(ref: str = REF, message: str = MESSAGE) -> None:
    """Call off maintenance that has not started (it leaves the public page)."""
    _step("cancel", ref, message)


@maintenance_app.command("list")
@handle_errors
def list_cmd() -> None:
    """All maintenances, soonest first."""
    context = get_context()
    with transaction(context.sessionmaker) as session:
        items = statuspage.list_maintenances(session)
    table = Table("ref", "title", "status", "from", "until", "components")
    for item in items:
        table.add_row(
            item.ref,
            escape(item.title),
            item.status.value,
            f"{item.scheduled_for:%Y-%m-%d %H:%M}",
            f"{item.scheduled_until:%Y-%m-%d %H:%M}",
            escape(", ".join(item.components)),
        )
    console.print(table)

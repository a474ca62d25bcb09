"""`firstword incidents ...`: open, update and inspect incidents from the command line.

Thin over the service: parse options, one transaction per command, format with Rich.
Text from the database is printed with Rich markup escaped: "[red]" in a title stays text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from sqlalchemy.orm import Session

from firstword.clisupport import cli_actor, console, get_context, handle_errors, transaction
from firstword.core.errors import InvalidInput
from firstword.incidents import cli_format as fmt
from firstword.incidents import service as incidents
from firstword.incidents.schemas import (
    ClockMark,
    ComponentRead,
    IncidentCreate,
    NoteAdd,
    PlaybookRead,
    RoleAssign,
    StateChange,
    TimelineEntryRead,
    UpdatePost,
)
from firstword.incidents.vocabulary import (
    ComponentStatus,
    DataCategory,
    IncidentKind,
    IncidentRole,
    IncidentState,
    Severity,
)

app = typer.Typer(help="Open, update and inspect incidents.", no_args_is_help=True)

E = TypeVar("E", bound=StrEnum)
M = TypeVar("M", bound=BaseModel)

# Schema field -> the option that feeds it, so validation errors name what the user typed.
OPTION_FOR = {
    "title": "--title",
    "summary": "--summary",
    "body": "--message",
    "note": "--note",
    "components": "--component",
    "data_categories": "--data-category",
    "detected_at": "--detected-at",
    "at": "--at",
}


def _choice(enum: type[E], value: str, option: str) -> E:
    try:
        return enum(value.strip().lower() if enum is not Severity else value.strip().upper())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidInput(option, f"unknown value {value!r}; one of: {allowed}") from None


def _components(pairs: Sequence[str]) -> dict[str, ComponentStatus]:
    """`key=status` pairs, e.g. online-checkout=major_outage."""
    result: dict[str, ComponentStatus] = {}
    for pair in pairs:
        key, sep, status = pair.partition("=")
        if not sep or not key.strip() or not status.strip():
            raise InvalidInput(
                "--component", f"{pair!r} is not key=status, e.g. online-checkout=major_outage"
            )
        result[key.strip()] = _choice(ComponentStatus, status, f"--component {key.strip()}")
    return result


def _when_option(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            option, f"{value!r} is not an ISO-8601 time such as 2026-11-20T08:30Z"
        ) from None


def _build(model: type[M], **fields: Any) -> M:
    """Validate CLI input through the service's schema; errors name the option."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = [str(p) for p in first["loc"]]
        option = OPTION_FOR.get(loc[0], f"--{loc[0].replace('_', '-')}") if loc else "input"
        raise InvalidInput(" ".join([option, *loc[1:]]), str(first["msg"])) from None


def _ensure_catalogue(session: Session) -> None:
    """The CLI loads the shipped + user component catalogue before using component keys."""
    ctx = get_context()
    incidents.ensure_component_catalogue(
        session, clock=ctx.clock, actor=cli_actor(), user_file=ctx.settings.user_components_file
    )


def _json(value: Any, adapter: TypeAdapter[Any] | None = None) -> None:
    """Plain JSON on stdout (no Rich highlighting), for scripts."""
    if adapter is not None:
        typer.echo(adapter.dump_json(value, indent=2).decode())
    else:
        typer.echo(value.model_dump_json(indent=2))


@app.command("open")
@handle_errors
def open_(
    title: str = typer.Option(..., "--title", help="Short public title of the incident."),
    kind: str = typer.Option(
        ...,
        "--kind",
        help="outage, payment_disruption, ransomware, "
        "customer_data_breach, card_breach or third_party_breach.",
    ),
    severity: str = typer.Option(..., "--severity", help="SEV1 (worst) to SEV4."),
    summary: str = typer.Option("", "--summary", help="What is known so far (internal)."),
    component: list[str] = typer.Option(
        [],
        "--component",
        help="Affected component as key=status (repeatable); see `incidents components`.",
    ),
    data_category: list[str] = typer.Option(
        [], "--data-category", help="Exposed data category (repeatable), e.g. email."
    ),
    detected_at: str | None = typer.Option(
        None, "--detected-at", help="When it was detected (ISO-8601 with zone, default now)."
    ),
    playbook: str | None = typer.Option(
        None, "--playbook", help="Playbook key (default: the kind's default playbook)."
    ),
) -> None:
    """Open an incident; its playbook's tasks are created with due times."""
    data = _build(
        IncidentCreate,
        title=title,
        kind=_choice(IncidentKind, kind, "--kind"),
        severity=_choice(Severity, severity, "--severity"),
        summary=summary,
        components=_components(component),
        data_categories=[_choice(DataCategory, c, "--data-category") for c in data_category],
        detected_at=_when_option(detected_at, "--detected-at"),
        playbook=playbook,
    )
    ctx = get_context()
    with transaction() as session:
        _ensure_catalogue(session)
        inc = incidents.open_incident(
            session,
            clock=ctx.clock,
            actor=cli_actor(),
            data=data,
            playbook_dirs=[ctx.settings.user_playbooks_dir],
        )
    console.print(
        f"opened [bold]{inc.ref}[/bold]: {escape(inc.title)} "
        f"({len(inc.tasks)} tasks from playbook {escape(inc.playbook or 'none')})",
        highlight=False,
    )


@app.command("update")
@handle_errors
def update(
    ref: str = typer.Argument(..., help="Incident reference, e.g. INC-2026-0001."),
    message: str = typer.Option(..., "--message", "-m", help="The public update text."),
    state: str | None = typer.Option(None, "--state", help="Move to this state as well."),
    component: list[str] = typer.Option(
        [], "--component", help="Set key=status as well (repeatable)."
    ),
    next_in: int | None = typer.Option(
        None,
        "--next-in",
        help="Promise the next update in this many minutes (5-1440) instead of the "
        "severity's cadence, e.g. overnight.",
    ),
) -> None:
    """Post a public update (optionally moving the state and component statuses)."""
    data = _build(
        UpdatePost,
        body=message,
        state=_choice(IncidentState, state, "--state") if state else None,
        components=_components(component),
        next_update_in_minutes=next_in,
    )
    ctx = get_context()
    with transaction() as session:
        if data.components:
            _ensure_catalogue(session)
        inc = incidents.post_update(session, clock=ctx.clock, actor=cli_actor(), ref=ref, data=data)
    console.print(
        f"posted update on [bold]{inc.ref}[/bold] ({fmt.human(inc.state)})", highlight=False
    )


@app.command("status")
@handle_errors
def status(
    ref: str = typer.Argument(..., help="Incident reference."),
    state: str = typer.Argument(
        ..., help="investigating, identified, monitoring, resolved or postmortem."
    ),
    note: str = typer.Option("", "--note", help="Why (kept on the timeline)."),
) -> None:
    """Move an incident to another state (no public update)."""
    data = _build(StateChange, state=_choice(IncidentState, state, "STATE"), note=note)
    ctx = get_context()
    with transaction() as session:
        inc = incidents.change_state(
            session, clock=ctx.clock, actor=cli_actor(), ref=ref, data=data
        )
    console.print(f"{inc.ref} is now {fmt.styled(inc.state, fmt.STATE_STYLE)}", highlight=False)


@app.command("list")
@handle_errors
def list_(
    state: list[str] = typer.Option([], "--state", help="Only these states (repeatable)."),
    kind: str | None = typer.Option(None, "--kind", help="Only this kind."),
    limit: int = typer.Option(50, "--limit", help="At most this many (1-200)."),
    cursor: str | None = typer.Option(None, "--cursor", help="Continue after a previous page."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List incidents, newest first."""
    states = [_choice(IncidentState, s, "--state") for s in state] or None
    kind_value = _choice(IncidentKind, kind, "--kind") if kind else None
    ctx = get_context()
    with transaction() as session:
        page = incidents.list_incidents(
            session, clock=ctx.clock, states=states, kind=kind_value, limit=limit, cursor=cursor
        )
    if as_json:
        _json(page)
        return
    table = Table(
        "ref",
        "title",
        "kind",
        "sev",
        "state",
        "detected",
        "updated",
        title=f"{page.total} incidents",
    )
    for item in page.items:
        table.add_row(
            item.ref,
            escape(item.title),
            fmt.human(item.kind),
            item.severity,
            fmt.styled(item.state, fmt.STATE_STYLE),
            fmt.dt(item.detected_at),
            fmt.dt(item.updated_at),
        )
    console.print(table)
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}", highlight=False)


@app.command("show")
@handle_errors
def show(
    ref: str = typer.Argument(..., help="Incident reference."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of panels."),
) -> None:
    """Everything about one incident: status, components, clock, tasks, latest updates."""
    ctx = get_context()
    with transaction() as session:
        inc = incidents.get_incident(session, clock=ctx.clock, ref=ref)
    if as_json:
        _json(inc)
        return
    parts: list[Any] = [fmt.overview(inc)]
    if inc.components:
        comps = Table("component", "group", "status", title="Components", title_justify="left")
        for comp in inc.components:
            comps.add_row(
                escape(comp.name), escape(comp.group), fmt.styled(comp.status, fmt.STATUS_STYLE)
            )
        parts.append(comps)
    parts += [fmt.clock_panel(inc), fmt.tasks_table(inc)]
    for upd in inc.updates[:3]:
        parts.append(
            Panel(
                escape(upd.body),
                title_align="left",
                title=f"{fmt.dt(upd.posted_at)} · {fmt.human(upd.state)} · {escape(upd.posted_by)}",
            )
        )
    if len(inc.updates) > 3:
        parts.append(f"… and {len(inc.updates) - 3} earlier updates")
    console.print(Group(*parts))


@app.command("timeline")
@handle_errors
def timeline(
    ref: str = typer.Argument(..., help="Incident reference."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Every change to an incident, oldest first."""
    with transaction() as session:
        entries = incidents.timeline(session, ref=ref)
    if as_json:
        _json(entries, TypeAdapter(list[TimelineEntryRead]))
        return
    table = Table(
        "when", "who", "what", "", title=f"Timeline of {ref.strip().upper()}", title_justify="left"
    )
    for e in entries:
        table.add_row(
            fmt.dt(e.at),
            escape(e.actor),
            escape(e.summary),
            "[cyan]public[/cyan]" if e.public else "",
        )
    console.print(table)


@app.command("note")
@handle_errors
def note(
    ref: str = typer.Argument(..., help="Incident reference."),
    text: str = typer.Argument(..., help="The note (internal: never published)."),
) -> None:
    """Add an internal note."""
    data = _build(NoteAdd, body=text)
    ctx = get_context()
    with transaction() as session:
        inc = incidents.add_note(session, clock=ctx.clock, actor=cli_actor(), ref=ref, data=data)
    console.print(f"noted on {inc.ref}", highlight=False)


@app.command("task-done")
@handle_errors
def task_done(
    ref: str = typer.Argument(..., help="Incident reference."),
    task_id: int = typer.Argument(..., help="Task number (see `incidents show`)."),
) -> None:
    """Mark a task done."""
    ctx = get_context()
    with transaction() as session:
        inc = incidents.complete_task(
            session, clock=ctx.clock, actor=cli_actor(), ref=ref, task_id=task_id
        )
    left = sum(1 for t in inc.tasks if t.done_at is None)
    console.print(f"task {task_id} done on {inc.ref}; {left} open tasks left", highlight=False)


@app.command("mark")
@handle_errors
def mark(
    ref: str = typer.Argument(..., help="Incident reference."),
    event: str = typer.Argument(..., help="customers_notified or contained."),
    at: str | None = typer.Option(None, "--at", help="When (ISO-8601 with zone, default now)."),
) -> None:
    """Record a transparency-clock milestone."""
    data = _build(
        ClockMark, event=event.strip().lower().replace("-", "_"), at=_when_option(at, "--at")
    )
    ctx = get_context()
    with transaction() as session:
        inc = incidents.mark_clock(session, clock=ctx.clock, actor=cli_actor(), ref=ref, data=data)
    console.print(f"{inc.ref}: {fmt.human(data.event)} recorded", highlight=False)


@app.command("assign")
@handle_errors
def assign(
    ref: str = typer.Argument(..., help="Incident reference."),
    role: str = typer.Argument(
        ..., help="incident_commander, communications, legal, security or customer_service."
    ),
    email: str = typer.Argument(..., help="The staff user's e-mail address."),
) -> None:
    """Put a person in a role on an incident."""
    from firstword.core.auth import service as auth

    role_value = _choice(IncidentRole, role, "ROLE")
    ctx = get_context()
    with transaction() as session:
        user = auth.get_user_by_email(session, email)
        inc = incidents.assign_role(
            session,
            clock=ctx.clock,
            actor=cli_actor(),
            ref=ref,
            data=RoleAssign(role=role_value, user_id=user.id),
        )
    console.print(f"{escape(user.name)} is {fmt.human(role_value)} on {inc.ref}", highlight=False)


@app.command("components")
@handle_errors
def components(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """The component catalogue (shipped, plus DATA_DIR/components.yaml) and current status."""
    with transaction() as session:
        _ensure_catalogue(session)
        items = incidents.list_components(session)
    if as_json:
        _json(items, TypeAdapter(list[ComponentRead]))
        return
    table = Table("key", "name", "group", "status")
    for c in items:
        table.add_row(
            c.key, escape(c.name), escape(c.group), fmt.styled(c.status, fmt.STATUS_STYLE)
        )
    console.print(table)


@app.command("playbooks")
@handle_errors
def playbooks(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Playbooks: shipped, plus YAML files in DATA_DIR/playbooks (same key overrides)."""
    ctx = get_context()
    items = incidents.list_playbooks([ctx.settings.user_playbooks_dir])
    if as_json:
        _json(items, TypeAdapter(list[PlaybookRead]))
        return
    table = Table("key", "name", "kind", "tasks", "source", "default")
    for p in items:
        table.add_row(
            p.key,
            escape(p.name),
            fmt.human(p.kind),
            str(len(p.tasks)),
            p.source,
            "yes" if p.default else "",
        )
    console.print(table)

"""How `firstword incidents` prints things: Rich panels and tables for people.

User text is always escaped: "[red]" in a title is text, not Rich markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from firstword.incidents.schemas import IncidentRead

STATE_STYLE = {
    "investigating": "red",
    "identified": "dark_orange",
    "monitoring": "yellow",
    "resolved": "green",
    "postmortem": "blue",
}
STATUS_STYLE = {
    "operational": "green",
    "degraded_performance": "yellow",
    "partial_outage": "dark_orange",
    "major_outage": "red",
    "under_maintenance": "blue",
}


def dt(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def human(value: str) -> str:
    return value.replace("_", " ")


def styled(value: str, styles: dict[str, str]) -> str:
    return f"[{styles.get(value, 'white')}]{escape(human(value))}[/]"


# --- commands ---------------------------------------------------------------------------


def overview(inc: IncidentRead) -> Panel:
    lines = [
        f"[bold]{escape(inc.title)}[/bold]",
        f"{human(inc.kind)} · {inc.severity} · {styled(inc.state, STATE_STYLE)} · "
        f"opened by {escape(inc.opened_by)} · version {inc.version}",
    ]
    if inc.summary:
        lines.append(f"\n{escape(inc.summary)}")
    if inc.customer_advice:
        lines.append(f"\n[bold]Advice to customers:[/bold] {escape(inc.customer_advice)}")
    if inc.data_categories:
        lines.append(
            "\n[bold]Data exposed:[/bold] " + ", ".join(human(c) for c in inc.data_categories)
        )
    if inc.roles:
        lines.append(
            "[bold]People:[/bold] "
            + "; ".join(f"{human(r.role)}: {escape(r.user_name)}" for r in inc.roles)
        )
    lines.append(f"[bold]Playbook:[/bold] {escape(inc.playbook or 'none')}")
    return Panel("\n".join(lines), title=inc.ref, title_align="left")


def clock_panel(inc: IncidentRead) -> Panel:
    c = inc.clock
    table = Table.grid(padding=(0, 2))
    table.add_row(
        "detected",
        dt(c.detected_at),
        f"{duration(c.time_since_detection_seconds)}"
        + (" to resolution" if c.resolved_at else " ago"),
    )
    table.add_row(
        "first public word",
        dt(c.acknowledged_at),
        f"after {duration(c.time_to_acknowledge_seconds)}"
        if c.acknowledged_at
        else "[red]not yet acknowledged publicly[/red]",
    )
    table.add_row(
        "customers notified",
        dt(c.customers_notified_at),
        f"after {duration(c.time_to_notify_seconds)}" if c.customers_notified_at else "",
    )
    table.add_row("contained", dt(c.contained_at), "")
    table.add_row("resolved", dt(c.resolved_at), "")
    table.add_row(
        "last public update",
        "",
        f"{duration(c.time_since_last_public_update_seconds)} ago"
        if c.time_since_last_public_update_seconds is not None
        else "none yet",
    )
    return Panel(table, title="Transparency clock", title_align="left")


def tasks_table(inc: IncidentRead) -> Table:
    table = Table("#", "due", "owner", "task", "", title="Tasks", title_justify="left")
    for t in inc.tasks:
        mark = (
            f"[green]done {dt(t.done_at)}[/green]"
            if t.done_at
            else "[red]OVERDUE[/red]"
            if t.overdue
            else ""
        )
        table.add_row(str(t.id), dt(t.due_at), human(t.owner_role), escape(t.title), mark)
    return table

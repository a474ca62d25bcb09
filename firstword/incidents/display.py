"""How incidents read on the console: labels, the update cadence, timeline changes, flash
messages, the incident pages' own stylesheet, and rendering with all of that (used by
pages.py and incident_page.py)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from firstword.incidents.cadence import CadencePolicy, status_of
from firstword.incidents.schemas import ComponentRead, IncidentRead, TimelineEntryRead
from firstword.web.templating import render

STYLESHEET = Path(__file__).resolve().parent / "static" / "incidents.css"

# ?done=<key> after a successful form post: the message shown on the page it redirects to.
FLASH = {
    "opened": "Incident opened.",
    "edit": "Incident details saved.",
    "state": "State changed.",
    "update": "Public update posted.",
    "components": "Component statuses saved.",
    "data": "Data categories saved.",
    "role": "Role assigned.",
    "role_removed": "Role unassigned.",
    "task": "Task added.",
    "task_done": "Task completed.",
    "note": "Internal note added.",
    "clock": "Clock milestone recorded.",
    "component": "Component added to the catalogue.",
    "catalogue": "Catalogue loaded from the shipped and user files.",
}

# Labels the generic "snake_case to words" rule gets wrong.
_LABELS = {
    "card_breach": "Card / POS breach",
    "email": "E-mail",
    "loyalty_id": "Loyalty ID",
    "government_id": "Government ID",
}


def label(value: object) -> str:
    """A vocabulary value as words: `payment_disruption` -> `Payment disruption`."""
    text = str(value)
    return _LABELS.get(text) or text.replace("_", " ").capitalize()


def cadence(incident: IncidentRead, now: datetime, policy: CadencePolicy) -> dict[str, Any]:
    """How long customers have waited for word, and when the next public update is due
    under the severity's cadence (cadence.py): the numbers the whole team watches. Stale
    when the promised update is overdue."""
    clock = incident.clock
    last = max((u.posted_at for u in incident.updates), default=None)
    status = status_of(
        ref=incident.ref,
        severity=incident.severity,
        state=incident.state,
        detected_at=incident.detected_at,
        last_public_update_at=last,
        now=now,
        policy=policy,
        promised_at=incident.next_update_promised_at,
    )
    since_update = clock.time_since_last_public_update_seconds
    return {
        "open": status.is_open,
        "since_update": since_update,
        "never": since_update is None,
        "stale": status.overdue,
        "due": status.next_update_due,
        "overdue_minutes": status.minutes_overdue,
        "due_in_minutes": status.minutes_until_due,
        "interval_minutes": status.interval_minutes,
        "first_minutes": status.first_update_minutes,
        "awaiting_first": status.awaiting_first_update,
    }


def minutes(value: int | None) -> str:
    """12 -> "12 min", 75 -> "1 h 15 min", 240 -> "4 h", 0 -> "under a minute"."""
    if value is None:
        return "—"
    if value < 1:
        return "under a minute"
    hours, mins = divmod(value, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return f"{days} d {hours} h"
    if not hours:
        return f"{mins} min"
    return f"{hours} h {mins} min" if mins else f"{hours} h"


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def shown(value: Any) -> str:
    """A timeline before/after value, compact: times as `20 Nov 09:45`, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(shown(v) for v in value) or "—"
    text = str(value)
    if _ISO_TIME.match(text):
        try:
            return datetime.fromisoformat(text).astimezone(UTC).strftime("%d %b %H:%M")
        except ValueError:
            pass
    return text if len(text) <= 240 else text[:239] + "…"


def timeline_rows(entries: list[TimelineEntryRead]) -> list[dict[str, Any]]:
    """Newest first (like the public updates). An entry that changed something gets its
    (field, before, after) rows, only for values that differ; one that added something (no
    `before`) gets its (field, value) details."""
    rows = []
    for entry in reversed(entries):
        after = entry.after or {}
        if entry.before is None:
            changes = []
            details = [(key, shown(value)) for key, value in after.items()]
        else:
            before = entry.before
            keys = sorted(set(before) | set(after))
            changes = [
                (key, shown(before.get(key)), shown(after.get(key)))
                for key in keys
                if before.get(key) != after.get(key)
            ]
            details = []
        rows.append({"entry": entry, "changes": changes, "details": details})
    return rows


def grouped(components: list[ComponentRead]) -> list[tuple[str, list[ComponentRead]]]:
    """Components by group, keeping the catalogue's order (group, then position)."""
    groups: dict[str, list[ComponentRead]] = {}
    for component in components:
        groups.setdefault(component.group, []).append(component)
    return list(groups.items())


@cache
def stylesheet_version() -> str:
    return hashlib.sha256(STYLESHEET.read_bytes()).hexdigest()[:10]


def stylesheet_url() -> str:
    """Versioned by content, so browsers may cache it and still see a new one."""
    return f"/console/assets/incidents.css?v={stylesheet_version()}"


def render_page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """Render an incidents template with `label` and the stylesheet URL available."""
    context = {"label": label, "minutes": minutes, "incidents_css": stylesheet_url(), **context}
    response: Response = render(request, name, context, status_code)
    return response

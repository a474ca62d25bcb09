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

from firstword.incidents.schemas import ComponentRead, IncidentRead, TimelineEntryRead
from firstword.incidents.vocabulary import OPEN_STATES
from firstword.web.templating import render

# Customers expect to hear again within this long while an incident is open.
CADENCE_SECONDS = 30 * 60

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


def cadence(incident: IncidentRead) -> dict[str, Any]:
    """How long customers have waited for word: the number the whole team watches. Stale
    when an open incident has gone more than CADENCE_SECONDS without a public update (or,
    before the first one, since detection)."""
    clock = incident.clock
    is_open = incident.state in OPEN_STATES
    since_update = clock.time_since_last_public_update_seconds
    waited = since_update if since_update is not None else clock.time_since_detection_seconds
    return {
        "open": is_open,
        "since_update": since_update,
        "never": since_update is None,
        "stale": is_open and waited > CADENCE_SECONDS,
    }


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
    context = {"label": label, "incidents_css": stylesheet_url(), **context}
    response: Response = render(request, name, context, status_code)
    return response

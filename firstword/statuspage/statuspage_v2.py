"""Atlassian Statuspage's public API v2, from a StatusView: the same paths, field names,
nesting and vocabularies, so tools that read a Statuspage page read this one unchanged.

Shapes follow Statuspage's public v2 documentation (each Statuspage-hosted page documents it
at /api, e.g. https://confluence.status.atlassian.com/api) and are written down field by
field in tests/statuspage/statuspage_v2_schema.py.

Identifiers (Statuspage's are opaque strings; ours are stable across re-renders, exports and
restarts, so clients can diff and deduplicate):
  * page id: `sid("page", public_base_url)`; component id: `sid("component", key)`;
    component group id: `sid("group", group name)` — `sid` is the first 12 base-36 digits
    of a SHA-256, the length and alphabet of Statuspage's own ids;
  * incident id: the incident's ref (INC-2026-0001), maintenance id its ref (MNT-2026-0001):
    the same text the page shows and anchors (`shortlink` is the page URL + "#" + ref);
  * update ids: `sid("incident_update", <update number>)`,
    `sid("maintenance_update", <update number>)`.
Timestamps are ISO-8601 in UTC with an explicit offset and milliseconds, as Statuspage
writes them ("2026-11-20T09:00:00.000+00:00").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from firstword.incidents.vocabulary import ComponentStatus
from firstword.statuspage.view import (
    ComponentGroupView,
    ComponentView,
    IncidentView,
    MaintenanceView,
    StatusView,
    UpdateView,
)

MAX_LISTED = 50  # Statuspage lists "the 50 most recent" incidents / maintenances
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

Json = dict[str, Any]


def sid(kind: str, value: str) -> str:
    """A stable 12-character id for `value` of `kind` (base 36 of its SHA-256)."""
    number = int.from_bytes(hashlib.sha256(f"{kind}:{value}".encode()).digest(), "big")
    out = []
    for _ in range(12):
        number, digit = divmod(number, 36)
        out.append(_DIGITS[digit])
    return "".join(out)


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def page_object(view: StatusView) -> Json:
    return {
        "id": sid("page", view.page.url),
        "name": view.page.name,
        "url": view.page.url,
        "time_zone": view.page.time_zone,
        "updated_at": ts(view.page.updated_at),
    }


def _component(c: ComponentView, *, position: int, group_id: str, page_id: str) -> Json:
    return {
        "id": sid("component", c.key),
        "name": c.name,
        "status": c.status.value,
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
        "position": position,
        "description": c.description or None,
        "showcase": True,
        "start_date": c.created_at.astimezone(UTC).date().isoformat(),
        "group_id": group_id,
        "page_id": page_id,
        "group": False,
        "only_show_if_degraded": False,
    }


def _group(g: ComponentGroupView, *, page_id: str) -> Json:
    return {
        "id": sid("group", g.name),
        "name": g.name,
        "status": g.status.value,
        "created_at": ts(g.created_at),
        "updated_at": ts(g.updated_at),
        "position": g.position,
        "description": None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": page_id,
        "group": True,
        "only_show_if_degraded": False,
        "components": [sid("component", c.key) for c in g.components],
    }


def components_list(view: StatusView) -> list[Json]:
    """Each group (a component with `group: true` listing its members' ids), then its
    members with their position inside the group."""
    page_id = sid("page", view.page.url)
    out: list[Json] = []
    for g in view.groups:
        out.append(_group(g, page_id=page_id))
        group_id = sid("group", g.name)
        out.extend(
            _component(c, position=i, group_id=group_id, page_id=page_id)
            for i, c in enumerate(g.components, start=1)
        )
    return out


def _affected(view: StatusView, keys: Sequence[str]) -> list[Json]:
    """The component objects for `keys` (their status now), in page order."""
    page_id = sid("page", view.page.url)
    wanted = set(keys)
    out: list[Json] = []
    for g in view.groups:
        for i, c in enumerate(g.components, start=1):
            if c.key in wanted:
                out.append(
                    _component(c, position=i, group_id=sid("group", g.name), page_id=page_id)
                )
    return out


def _update(
    update_id: str,
    *,
    incident_id: str,
    status: str,
    body: str,
    at: datetime,
    affected: list[Json] | None,
) -> Json:
    return {
        "id": update_id,
        "status": status,
        "body": body,
        "incident_id": incident_id,
        "created_at": ts(at),
        "updated_at": ts(at),
        "display_at": ts(at),
        "affected_components": affected,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def _incident_updates(incident: IncidentView) -> list[Json]:
    """Newest first. `affected_components` lists each component whose status the update
    carries, with the status before it (from the previous update; operational at first)."""
    before: dict[str, ComponentStatus] = {}
    rendered: list[Json] = []
    for u in sorted(incident.updates, key=lambda u: u.id):
        rendered.append(_one_update(incident.ref, u, before))
        before = {c.key: c.status for c in u.components}
    return rendered[::-1]


def _one_update(ref: str, u: UpdateView, before: dict[str, ComponentStatus]) -> Json:
    affected = [
        {
            "code": sid("component", c.key),
            "name": c.name,
            "old_status": before.get(c.key, ComponentStatus.OPERATIONAL).value,
            "new_status": c.status.value,
        }
        for c in u.components
    ]
    return _update(
        sid("incident_update", str(u.id)),
        incident_id=ref,
        status=u.state.value,
        body=u.body,
        at=u.posted_at,
        affected=affected or None,
    )


def incident_object(view: StatusView, incident: IncidentView) -> Json:
    return {
        "id": incident.ref,
        "name": incident.title,
        "status": incident.state.value,
        "created_at": ts(incident.created_at),
        "updated_at": ts(incident.updated_at),
        "monitoring_at": ts(incident.monitoring_at),
        "resolved_at": ts(incident.resolved_at),
        "impact": incident.impact.value,
        "shortlink": incident.url,
        "started_at": ts(incident.started_at),
        "page_id": sid("page", view.page.url),
        "incident_updates": _incident_updates(incident),
        "components": _affected(view, [c.key for c in incident.components]),
    }


def maintenance_object(view: StatusView, item: MaintenanceView) -> Json:
    updates = [
        _update(
            sid("maintenance_update", str(u.id)),
            incident_id=item.ref,
            status=u.status.value,
            body=u.body,
            at=u.posted_at,
            affected=None,
        )
        for u in item.updates
    ]
    return {
        "id": item.ref,
        "name": item.title,
        "status": item.status.value,
        "created_at": ts(item.created_at),
        "updated_at": ts(item.updated_at),
        "monitoring_at": None,
        "resolved_at": ts(item.completed_at),
        "impact": "maintenance",
        "shortlink": item.url,
        "started_at": ts(item.started_at or item.scheduled_for),
        "page_id": sid("page", view.page.url),
        "incident_updates": updates,
        "components": _affected(view, [c.key for c in item.components]),
        "scheduled_for": ts(item.scheduled_for),
        "scheduled_until": ts(item.scheduled_until),
    }


def status_object(view: StatusView) -> Json:
    return {"indicator": view.status.indicator.value, "description": view.status.description}


# --- the endpoints --------------------------------------------------------------------------


def _all_incidents(view: StatusView) -> list[IncidentView]:
    both = [*view.incidents, *view.past_incidents]
    return sorted(both, key=lambda i: (i.created_at, i.ref), reverse=True)[:MAX_LISTED]


def summary(view: StatusView) -> Json:
    return {
        "page": page_object(view),
        "components": components_list(view),
        "incidents": [incident_object(view, i) for i in view.incidents],
        "scheduled_maintenances": [maintenance_object(view, m) for m in view.maintenances],
        "status": status_object(view),
    }


def status(view: StatusView) -> Json:
    return {"page": page_object(view), "status": status_object(view)}


def components(view: StatusView) -> Json:
    return {"page": page_object(view), "components": components_list(view)}


def incidents(view: StatusView) -> Json:
    return {
        "page": page_object(view),
        "incidents": [incident_object(view, i) for i in _all_incidents(view)],
    }


def unresolved_incidents(view: StatusView) -> Json:
    return {
        "page": page_object(view),
        "incidents": [incident_object(view, i) for i in view.incidents],
    }


def scheduled_maintenances(view: StatusView) -> Json:
    every = sorted(
        [*view.maintenances, *view.past_maintenances],
        key=lambda m: (m.scheduled_for, m.ref),
        reverse=True,
    )[:MAX_LISTED]
    return {
        "page": page_object(view),
        "scheduled_maintenances": [maintenance_object(view, m) for m in every],
    }


def upcoming_maintenances(view: StatusView) -> Json:
    return {
        "page": page_object(view),
        "scheduled_maintenances": [maintenance_object(view, m) for m in view.upcoming_maintenances],
    }


def active_maintenances(view: StatusView) -> Json:
    return {
        "page": page_object(view),
        "scheduled_maintenances": [maintenance_object(view, m) for m in view.active_maintenances],
    }


# path under /api/v2/ -> renderer
ENDPOINTS: dict[str, Callable[[StatusView], Json]] = {
    "summary.json": summary,
    "status.json": status,
    "components.json": components,
    "incidents.json": incidents,
    "incidents/unresolved.json": unresolved_incidents,
    "scheduled-maintenances.json": scheduled_maintenances,
    "scheduled-maintenances/upcoming.json": upcoming_maintenances,
    "scheduled-maintenances/active.json": active_maintenances,
}


def encode(document: Json) -> bytes:
    """Compact UTF-8 JSON, the same bytes for the same document (stable ETags)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def render_all(view: StatusView) -> dict[str, bytes]:
    """ "api/v2/<endpoint>" -> bytes, for every endpoint."""
    return {f"api/v2/{path}": encode(render(view)) for path, render in ENDPOINTS.items()}

"""The shapes of Atlassian Statuspage's public API v2, written down from its public
documentation, and a checker that compares a document with them field by field.

Sources (public documentation of the v2 API that every Statuspage-hosted page serves):
  * "Status API" documentation page of a Statuspage-hosted page, e.g.
    https://confluence.status.atlassian.com/api — endpoints summary.json, status.json,
    components.json, incidents/unresolved.json, incidents.json,
    scheduled-maintenances/upcoming.json, scheduled-maintenances/active.json,
    scheduled-maintenances.json, with example responses; status indicator "one of none,
    minor, major, or critical"; component status "one of operational, degraded_performance,
    partial_outage, or major_outage" (under_maintenance during maintenance); incident status
    "one of investigating, identified, monitoring, resolved, or postmortem"; scheduled
    maintenance status "one of scheduled, in_progress, verifying, or completed"; impact
    "one of none, minor, major, or critical" (scheduled maintenances: "maintenance").
  * MongoDB's OpenAPI description of its Statuspage page's v2 API (status.mongodb.com):
    https://www.mongodb.com/docs/api/doc/cloud-status/ (page, component, incident,
    incident update and scheduled-maintenance objects; impact values incl. "maintenance").
  * Real responses of Statuspage pages, for the fields the reference pages abbreviate:
    page.time_zone; component showcase/start_date/group_id/group/only_show_if_degraded and
    a group's `components` (ids); incident shortlink/started_at/monitoring_at; incident
    update display_at/affected_components ({code, name, old_status, new_status})/
    deliver_notifications/custom_tweet/tweet_id; maintenance scheduled_for/scheduled_until.

Every object below lists ALL its keys: the checker reports missing and unexpected keys,
wrong types, values outside a vocabulary and timestamps without an offset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}:\d{2}|Z)$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
INDICATORS = ("none", "minor", "major", "critical")
INCIDENT_IMPACTS = ("none", "minor", "major", "critical")


@dataclass(frozen=True)
class Nullable:
    inner: Any


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class Const:
    value: Any


DATETIME = "datetime"
DATE = "date"

PAGE = {
    "id": str,
    "name": str,
    "url": str,
    "time_zone": str,
    "updated_at": DATETIME,
}
STATUS = {"indicator": Enum(INDICATORS), "description": str}

_COMPONENT_COMMON = {
    "id": str,
    "name": str,
    "status": Enum(COMPONENT_STATUSES),
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "position": int,
    "description": Nullable(str),
    "showcase": bool,
    "start_date": Nullable(DATE),
    "page_id": str,
    "only_show_if_degraded": bool,
}
COMPONENT = {**_COMPONENT_COMMON, "group_id": Nullable(str), "group": Const(False)}
GROUP_COMPONENT = {
    **_COMPONENT_COMMON,
    "group_id": Const(None),
    "group": Const(True),
    "components": ListOf(str),
}

AFFECTED_COMPONENT = {
    "code": str,
    "name": str,
    "old_status": Enum(COMPONENT_STATUSES),
    "new_status": Enum(COMPONENT_STATUSES),
}


def _update(statuses: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": str,
        "status": Enum(statuses),
        "body": str,
        "incident_id": str,
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "display_at": DATETIME,
        "affected_components": Nullable(ListOf(AFFECTED_COMPONENT)),
        "deliver_notifications": bool,
        "custom_tweet": Nullable(str),
        "tweet_id": Nullable(str),
    }


INCIDENT_UPDATE = _update(INCIDENT_STATUSES)
MAINTENANCE_UPDATE = _update(MAINTENANCE_STATUSES)

ANY_COMPONENT = "component-or-group"

INCIDENT = {
    "id": str,
    "name": str,
    "status": Enum(INCIDENT_STATUSES),
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "monitoring_at": Nullable(DATETIME),
    "resolved_at": Nullable(DATETIME),
    "impact": Enum(INCIDENT_IMPACTS),
    "shortlink": str,
    "started_at": DATETIME,
    "page_id": str,
    "incident_updates": ListOf(INCIDENT_UPDATE),
    "components": ListOf(COMPONENT),
}
SCHEDULED_MAINTENANCE = {
    **INCIDENT,
    "status": Enum(MAINTENANCE_STATUSES),
    "impact": Const("maintenance"),
    "incident_updates": ListOf(MAINTENANCE_UPDATE),
    "scheduled_for": DATETIME,
    "scheduled_until": DATETIME,
}

ENDPOINTS: dict[str, dict[str, Any]] = {
    "summary.json": {
        "page": PAGE,
        "components": ListOf(ANY_COMPONENT),
        "incidents": ListOf(INCIDENT),
        "scheduled_maintenances": ListOf(SCHEDULED_MAINTENANCE),
        "status": STATUS,
    },
    "status.json": {"page": PAGE, "status": STATUS},
    "components.json": {"page": PAGE, "components": ListOf(ANY_COMPONENT)},
    "incidents.json": {"page": PAGE, "incidents": ListOf(INCIDENT)},
    "incidents/unresolved.json": {"page": PAGE, "incidents": ListOf(INCIDENT)},
    "scheduled-maintenances.json": {
        "page": PAGE,
        "scheduled_maintenances": ListOf(SCHEDULED_MAINTENANCE),
    },
    "scheduled-maintenances/upcoming.json": {
        "page": PAGE,
        "scheduled_maintenances": ListOf(SCHEDULED_MAINTENANCE),
    },
    "scheduled-maintenances/active.json": {
        "page": PAGE,
        "scheduled_maintenances": ListOf(SCHEDULED_MAINTENANCE),
    },
}


def problems(value: Any, schema: Any, path: str = "$") -> list[str]:
    """Every difference between `value` and `schema`, as readable lines (empty: it fits)."""
    if schema == ANY_COMPONENT:
        if isinstance(value, dict) and value.get("group") is True:
            return problems(value, GROUP_COMPONENT, path)
        return problems(value, COMPONENT, path)
    if isinstance(schema, Nullable):
        return [] if value is None else problems(value, schema.inner, path)
    if isinstance(schema, Const):
        return (
            []
            if value == schema.value and type(value) is type(schema.value)
            else [f"{path}: expected {schema.value!r}, got {value!r}"]
        )
    if isinstance(schema, Enum):
        ok = isinstance(value, str) and value in schema.values
        return [] if ok else [f"{path}: {value!r} not one of {', '.join(schema.values)}"]
    if isinstance(schema, ListOf):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        found: list[str] = []
        for index, item in enumerate(value):
            found += problems(item, schema.item, f"{path}[{index}]")
        return found
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        found = [f"{path}.{k}: missing" for k in schema if k not in value]
        found += [f"{path}.{k}: unexpected field" for k in value if k not in schema]
        for key, sub in schema.items():
            if key in value:
                found += problems(value[key], sub, f"{path}.{key}")
        return found
    if schema == DATETIME:
        ok = isinstance(value, str) and DATETIME_RE.match(value) is not None
        return [] if ok else [f"{path}: {value!r} is not ISO-8601 with an offset"]
    if schema == DATE:
        ok = isinstance(value, str) and DATE_RE.match(value) is not None
        return [] if ok else [f"{path}: {value!r} is not a date"]
    if schema is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if schema is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if schema is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    raise AssertionError(f"unknown schema at {path}: {schema!r}")

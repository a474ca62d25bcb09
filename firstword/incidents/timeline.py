"""The incident timeline: append-only, one entry per change (who, what, when, before/after),
each mirrored into the tamper-evident audit log. There is deliberately no function here to
edit or delete an entry."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.core import audit, events
from firstword.core.auth.roles import Actor
from firstword.core.clock import Clock
from firstword.incidents.models import Incident, TimelineEntry
from firstword.incidents.schemas import TimelineEntryRead


def jsonable(value: Any) -> Any:
    """Plain JSON values for the before/after columns (datetimes as ISO-8601 strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    return value


# Changes that alter what the public sees; each publishes `incident.changed` so the status page
# re-renders and, for public updates, subscribers are told.
PUBLIC_KINDS = frozenset(
    {
        "opened",
        "edited",
        "state_changed",
        "components_changed",
        "public_update",
        "data_categories_changed",
        "clock_marked",
        # A missed update changes the page too: "next update by" becomes "update overdue".
        "update_overdue",
    }
)
INCIDENT_CHANGED = "incident.changed"


def record_change(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    incident: Incident,
    kind: str,
    summary: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    public: bool = False,
    bump: bool = True,
) -> TimelineEntry:
    """Append a timeline entry and its audit record; bump the incident's version and
    updated_at (`bump=False` only for the entries written when the incident is opened)."""
    now = clock.now()
    if bump:
        incident.version += 1
        incident.updated_at = now
    entry = TimelineEntry(
        incident_id=incident.id,
        at=now,
        actor=actor.label,
        kind=kind,
        summary=summary,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
        public=public,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action=f"incident.{kind}",
        object_type="incident",
        object_id=incident.ref,
        detail={
            "summary": summary,
            "before": entry.before,
            "after": entry.after,
            "public": public,
            "version": incident.version,
        },
    )
    if kind in PUBLIC_KINDS:
        events.publish(
            session,
            clock=clock,
            topic=INCIDENT_CHANGED,
            key=f"{incident.ref}:{entry.id}",
            payload={"ref": incident.ref, "entry_id": entry.id, "kind": kind, "public": public},
            reference=incident.ref,
        )
    return entry


def entries(session: Session, incident_id: int) -> list[TimelineEntryRead]:
    """Oldest first."""
    rows = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    return [TimelineEntryRead.model_validate(r) for r in rows]

"""Component status history, reconstructed from the incident timeline (for uptime bars).

A component's status in an incident is not one value for the incident's whole life: it moves
(degraded → major outage → partial outage) and returns to operational when the incident is
resolved. The timeline records every such move ("opened" and "components_changed" entries,
with the new status per component key), so the history is exact rather than an estimate from
the incident's current state. The first status counts from the incident's `detected_at`
(customers were affected from then, even if staff opened the incident later).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from firstword.incidents.models import Incident, TimelineEntry
from firstword.incidents.schemas import StatusInterval
from firstword.incidents.vocabulary import OPEN_STATES, ComponentStatus

_STATUS_KINDS = ("opened", "components_changed")


def component_history(
    session: Session, *, since: datetime, until: datetime
) -> dict[str, list[StatusInterval]]:
    """Per component key, the intervals with a non-operational status that overlap
    [since, until), oldest first. Intervals are not clipped to the window; one still lasting
    has `end=None`. Overlapping intervals from different incidents are all returned."""
    incidents = list(
        session.execute(
            select(
                Incident.id,
                Incident.ref,
                Incident.detected_at,
                Incident.state,
                Incident.resolved_at,
                Incident.updated_at,
            )
            .where(
                Incident.detected_at < until,
                or_(
                    Incident.resolved_at.is_(None),
                    Incident.resolved_at > since,
                    Incident.state.in_([s.value for s in OPEN_STATES]),
                ),
            )
            .order_by(Incident.id)
        )
    )
    if not incidents:
        return {}
    by_id = {row.id: row for row in incidents}
    entries = session.execute(
        select(TimelineEntry.incident_id, TimelineEntry.at, TimelineEntry.kind, TimelineEntry.after)
        .where(TimelineEntry.incident_id.in_(list(by_id)), TimelineEntry.kind.in_(_STATUS_KINDS))
        .order_by(TimelineEntry.incident_id, TimelineEntry.at, TimelineEntry.id)
    )
    result: dict[str, list[StatusInterval]] = {}
    # (incident id, component key) -> the interval still running
    running: dict[tuple[int, str], StatusInterval] = {}

    def close(incident_id: int, key: str, at: datetime) -> None:
        interval = running.pop((incident_id, key), None)
        if interval is not None:
            interval.end = max(at, interval.start)

    for incident_id, at, kind, after in entries:
        incident = by_id[incident_id]
        components = (after or {}).get("components") or {}
        start = incident.detected_at if kind == "opened" else at
        for key, value in components.items():
            try:
                status = ComponentStatus(value)
            except ValueError:
                continue  # not a status (cannot happen for entries the service wrote)
            close(incident_id, key, start)
            if status is ComponentStatus.OPERATIONAL:
                continue
            interval = StatusInterval(
                incident_ref=incident.ref, status=status, start=start, end=None
            )
            running[(incident_id, key)] = interval
            result.setdefault(key, []).append(interval)
    # An incident that is over cannot still be affecting anything (defensive: resolving sets
    # its components back to operational, which closed them above).
    for incident_id, key in list(running):
        incident = by_id[incident_id]
        if incident.state not in {s.value for s in OPEN_STATES}:
            close(incident_id, key, incident.resolved_at or incident.updated_at)
    return {
        key: sorted(
            (i for i in intervals if i.start < until and (i.end is None or i.end > since)),
            key=lambda i: (i.start, i.incident_ref),
        )
        for key, intervals in result.items()
        if any(i.start < until and (i.end is None or i.end > since) for i in intervals)
    }

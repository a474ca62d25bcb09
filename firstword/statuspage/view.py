"""What the public status page shows, as one Pydantic value built once per change.

`build_view` reads the incidents service and the maintenances and keeps only PUBLIC facts:
titles, states, impact, customer advice, public updates (body and time, never who wrote
them), components and maintenances. Internal notes, tasks, roles, data categories, the
incident summary and staff names never enter the view, so nothing rendered from it (HTML,
JSON, feeds, banner) can leak them.

Rules, after Atlassian Statuspage so the JSON means what existing clients expect:

* Incident impact (none/minor/major/critical) is the worse of
  - the worst status the incident gave any component during its life
    (major_outage → critical, partial_outage → major, degraded_performance → minor,
    otherwise none — Statuspage's own calculation), and
  - its severity (SEV1 → critical, SEV2 → major, SEV3 → minor, SEV4 → none), so that a
    breach or ransomware incident that takes no component down is still announced with
    the weight staff gave it.
* Overall status (indicator + description), from the components' current statuses as
  Statuspage computes its top-level status (see `overall_status`), raised to the worst
  impact of the unresolved incidents.
* Uptime: per UTC day, major_outage time counts fully as downtime, partial_outage at 30%,
  degraded performance and maintenance not at all (Statuspage's uptime showcase rules).

The page anchors each incident at `#<ref>` and each maintenance at `#<ref>`; their `url`
fields point there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firstword.core.audit import AuditEntry
from firstword.core.clock import Clock
from firstword.core.settings import Settings
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentRead, StatusInterval
from firstword.incidents.vocabulary import (
    OPEN_STATES,
    STATUS_RANK,
    ComponentStatus,
    IncidentState,
    Severity,
)
from firstword.statuspage import maintenance
from firstword.statuspage.maintenance import ACTIVE_STATUSES, MaintenanceRead, MaintenanceStatus

HISTORY_DAYS = 90
PARTIAL_OUTAGE_WEIGHT = 0.3
TIME_ZONE = "Etc/UTC"
_STATUS_VALUES = frozenset(s.value for s in ComponentStatus)


class Indicator(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


INDICATOR_RANK = {Indicator.NONE: 0, Indicator.MINOR: 1, Indicator.MAJOR: 2, Indicator.CRITICAL: 3}
SEVERITY_IMPACT = {
    Severity.SEV1: Indicator.CRITICAL,
    Severity.SEV2: Indicator.MAJOR,
    Severity.SEV3: Indicator.MINOR,
    Severity.SEV4: Indicator.NONE,
}
STATUS_IMPACT = {
    ComponentStatus.MAJOR_OUTAGE: Indicator.CRITICAL,
    ComponentStatus.PARTIAL_OUTAGE: Indicator.MAJOR,
    ComponentStatus.DEGRADED_PERFORMANCE: Indicator.MINOR,
    ComponentStatus.UNDER_MAINTENANCE: Indicator.NONE,
    ComponentStatus.OPERATIONAL: Indicator.NONE,
}
# The description Statuspage shows when an unresolved incident, not a component, sets the level.
INCIDENT_DESCRIPTION = {
    Indicator.MINOR: "Minor Service Outage",
    Indicator.MAJOR: "Partial System Outage",
    Indicator.CRITICAL: "Major System Outage",
}
ALL_OPERATIONAL = "All Systems Operational"


# --- the view -----------------------------------------------------------------------------


class Brand(BaseModel):
    name: str
    logo_url: str | None
    primary_color: str


class PageView(BaseModel):
    name: str
    url: str
    time_zone: str
    updated_at: datetime  # the newest change shown (not the render time: stable ETags)
    brand: Brand


class OverallStatus(BaseModel):
    indicator: Indicator
    description: str


class UptimeDay(BaseModel):
    date: date
    status: ComponentStatus  # the worst status that day (operational when none)
    uptime_percent: float  # 0..100, rounded down to 2 decimals
    major_outage_seconds: int
    partial_outage_seconds: int
    incident_refs: list[str]  # incidents that gave the component a status that day


class ComponentView(BaseModel):
    key: str
    name: str
    description: str
    group: str
    position: int
    status: ComponentStatus  # incidents rolled up, then maintenance (see build_view)
    created_at: datetime
    updated_at: datetime
    uptime_percent: float  # over the HISTORY_DAYS days
    uptime_days: list[UptimeDay]  # oldest first, HISTORY_DAYS long, the last is today


class ComponentGroupView(BaseModel):
    name: str
    position: int  # 1-based, the catalogue's group order
    status: ComponentStatus  # the worst of its components
    created_at: datetime
    updated_at: datetime
    components: list[ComponentView]


class AffectedComponentView(BaseModel):
    key: str
    name: str
    status: ComponentStatus


class UpdateView(BaseModel):
    id: int
    state: IncidentState
    body: str
    posted_at: datetime
    components: list[AffectedComponentView]  # statuses as of this update


class IncidentView(BaseModel):
    ref: str
    title: str
    state: IncidentState
    severity: Severity
    impact: Indicator
    created_at: datetime
    updated_at: datetime
    started_at: datetime  # detected: customers were affected from then
    monitoring_at: datetime | None
    resolved_at: datetime | None
    customer_advice: str
    url: str
    components: list[AffectedComponentView]
    updates: list[UpdateView]  # newest first
    next_update_due: datetime | None = None  # the promised cadence (None once resolved)
    update_overdue: bool = False  # that promise is broken: the page says so, not a past time


class MaintenanceUpdateView(BaseModel):
    id: int
    status: MaintenanceStatus
    body: str
    posted_at: datetime


class MaintenanceView(BaseModel):
    ref: str
    title: str
    body: str
    status: MaintenanceStatus
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    url: str
    components: list[AffectedComponentView]
    updates: list[MaintenanceUpdateView]  # newest first


class StatusView(BaseModel):
    page: PageView
    status: OverallStatus
    groups: list[ComponentGroupView]
    incidents: list[IncidentView]  # unresolved, newest first
    maintenances: list[MaintenanceView]  # in progress/verifying, then upcoming; soonest first
    past_incidents: list[IncidentView]  # resolved in the last HISTORY_DAYS days, newest first
    past_maintenances: list[MaintenanceView]  # completed in the last HISTORY_DAYS days

    @property
    def components(self) -> list[ComponentView]:
        return [c for g in self.groups for c in g.components]

    @property
    def active_maintenances(self) -> list[MaintenanceView]:
        return [m for m in self.maintenances if m.status in ACTIVE_STATUSES]

    @property
    def upcoming_maintenances(self) -> list[MaintenanceView]:
        return [m for m in self.maintenances if m.status == MaintenanceStatus.SCHEDULED]


# --- rules ----------------------------------------------------------------------------------


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    return max(statuses, key=STATUS_RANK.__getitem__, default=ComponentStatus.OPERATIONAL)


def worse(a: Indicator, b: Indicator) -> Indicator:
    return a if INDICATOR_RANK[a] >= INDICATOR_RANK[b] else b


def incident_impact(severity: Severity, worst_status: ComponentStatus) -> Indicator:
    return worse(SEVERITY_IMPACT[severity], STATUS_IMPACT[worst_status])


def overall_status(
    statuses: Sequence[ComponentStatus], incident_impacts: Iterable[Indicator] = ()
) -> OverallStatus:
    """Statuspage's top-level status from the components, raised by unresolved incidents.

    Components: any in major outage → "Major System Outage" (critical) if all are, else
    "Partial System Outage" (major); else any in partial outage → "Partial System Outage"
    (major) if all are, else "Minor Service Outage" (minor); else any degraded → "Degraded
    System Service" if all are, else "Partially Degraded Service" (minor); else any under
    maintenance → "Service Under Maintenance" (indicator none: the documented indicator
    values are none/minor/major/critical); else "All Systems Operational"."""
    result = OverallStatus(indicator=Indicator.NONE, description=ALL_OPERATIONAL)
    present = set(statuses)
    every = len(present) == 1

    def pick(all_text: str, all_ind: Indicator, some_text: str, some_ind: Indicator) -> None:
        result.description, result.indicator = (
            (all_text, all_ind) if every else (some_text, some_ind)
        )

    if ComponentStatus.MAJOR_OUTAGE in present:
        pick("Major System Outage", Indicator.CRITICAL, "Partial System Outage", Indicator.MAJOR)
    elif ComponentStatus.PARTIAL_OUTAGE in present:
        pick("Partial System Outage", Indicator.MAJOR, "Minor Service Outage", Indicator.MINOR)
    elif ComponentStatus.DEGRADED_PERFORMANCE in present:
        pick(
            "Degraded System Service",
            Indicator.MINOR,
            "Partially Degraded Service",
            Indicator.MINOR,
        )
    elif ComponentStatus.UNDER_MAINTENANCE in present:
        result.description = "Service Under Maintenance"
    for impact in incident_impacts:
        if INDICATOR_RANK[impact] > INDICATOR_RANK[result.indicator]:
            result.indicator = impact
            result.description = INCIDENT_DESCRIPTION[impact]
    return result


def _floor2(value: float) -> float:
    bounded = Decimal(repr(max(0.0, min(100.0, value))))
    return float(bounded.quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def _segments(
    intervals: Sequence[tuple[ComponentStatus, datetime, datetime | None]],
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime, ComponentStatus]]:
    """The window [start, end) cut where any interval starts or ends, each piece with the
    worst status covering it (overlaps from several incidents count once)."""
    clipped = [
        (status, max(s, start), min(e or end, end))
        for status, s, e in intervals
        if s < end and (e is None or e > start)
    ]
    cuts = sorted({start, end, *(s for _, s, _ in clipped), *(e for _, _, e in clipped)})
    pieces: list[tuple[datetime, datetime, ComponentStatus]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        covering = [status for status, s, e in clipped if s <= a and e >= b]
        if covering:
            pieces.append((a, b, worst(covering)))
    return pieces


def _downtime(pieces: Iterable[tuple[datetime, datetime, ComponentStatus]]) -> tuple[int, int]:
    major = partial = 0.0
    for a, b, status in pieces:
        if status is ComponentStatus.MAJOR_OUTAGE:
            major += (b - a).total_seconds()
        elif status is ComponentStatus.PARTIAL_OUTAGE:
            partial += (b - a).total_seconds()
    return round(major), round(partial)


def _uptime(major: int, partial: int, length: float) -> float:
    if length <= 0:
        return 100.0
    return _floor2(100.0 * (1 - (major + PARTIAL_OUTAGE_WEIGHT * partial) / length))


def uptime_days(
    intervals: Sequence[StatusInterval],
    maintenance_windows: Sequence[tuple[datetime, datetime | None]],
    *,
    now: datetime,
    days: int = HISTORY_DAYS,
) -> tuple[list[UptimeDay], float]:
    """Per UTC day (the last is today, counted up to `now`) and over the whole window."""
    timeline = [(i.status, i.start, i.end) for i in intervals] + [
        (ComponentStatus.UNDER_MAINTENANCE, s, e) for s, e in maintenance_windows
    ]
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    result: list[UptimeDay] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        start = datetime.combine(day, time(), tzinfo=UTC)
        end = min(start + timedelta(days=1), now)
        pieces = _segments(timeline, start, end) if end > start else []
        major, partial = _downtime(pieces)
        refs = sorted(
            {
                i.incident_ref
                for i in intervals
                if i.start < end and (i.end is None or i.end > start)
            }
        )
        result.append(
            UptimeDay(
                date=day,
                status=worst(p[2] for p in pieces),
                uptime_percent=_uptime(major, partial, (end - start).total_seconds()),
                major_outage_seconds=major,
                partial_outage_seconds=partial,
                incident_refs=refs,
            )
        )
    window_start = datetime.combine(first, time(), tzinfo=UTC)
    major, partial = _downtime(_segments(timeline, window_start, now))
    return result, _uptime(major, partial, (now - window_start).total_seconds())


# --- building -------------------------------------------------------------------------------


def _monitoring_at(incident: IncidentRead) -> datetime | None:
    """When the incident last entered monitoring, as its public updates tell it."""
    since: datetime | None = None
    for update in sorted(incident.updates, key=lambda u: u.id):
        if update.state is IncidentState.MONITORING:
            since = since or update.posted_at
        elif update.state in (IncidentState.INVESTIGATING, IncidentState.IDENTIFIED):
            since = None
    return since


def _incident_view(
    incident: IncidentRead,
    *,
    names: dict[str, str],
    worst_status: ComponentStatus,
    base_url: str,
) -> IncidentView:
    updates = [
        UpdateView(
            id=u.id,
            state=u.state,
            body=u.body,
            posted_at=u.posted_at,
            components=[
                AffectedComponentView(key=k, name=names.get(k, k), status=ComponentStatus(v))
                for k, v in sorted(u.component_statuses.items())
                if v in _STATUS_VALUES
            ],
        )
        for u in sorted(incident.updates, key=lambda u: u.id, reverse=True)
    ]
    current = worst(c.status for c in incident.components)
    return IncidentView(
        ref=incident.ref,
        title=incident.title,
        state=incident.state,
        severity=incident.severity,
        impact=incident_impact(incident.severity, worst([worst_status, current])),
        created_at=incident.created_at,
        updated_at=incident.updated_at,
        started_at=incident.detected_at,
        monitoring_at=_monitoring_at(incident),
        resolved_at=incident.resolved_at,
        customer_advice=incident.customer_advice,
        url=f"{base_url}/#{incident.ref}",
        components=[
            AffectedComponentView(key=c.key, name=c.name, status=c.status)
            for c in incident.components
        ],
        updates=updates,
    )


def _maintenance_view(
    item: MaintenanceRead, *, names: dict[str, str], base_url: str
) -> MaintenanceView:
    active = item.status in ACTIVE_STATUSES
    return MaintenanceView(
        ref=item.ref,
        title=item.title,
        body=item.body,
        status=item.status,
        scheduled_for=item.scheduled_for,
        scheduled_until=item.scheduled_until,
        started_at=item.started_at,
        completed_at=item.completed_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        url=f"{base_url}/#{item.ref}",
        components=[
            AffectedComponentView(
                key=k,
                name=names.get(k, k),
                status=ComponentStatus.UNDER_MAINTENANCE if active else ComponentStatus.OPERATIONAL,
            )
            for k in item.components
        ],
        updates=[
            MaintenanceUpdateView(id=u.id, status=u.status, body=u.body, posted_at=u.posted_at)
            for u in item.updates
        ],
    )


def _component_created(session: Session) -> dict[str, datetime]:
    """When each catalogue entry was first stored (the audit log records it)."""
    rows = session.execute(
        select(AuditEntry.object_id, func.min(AuditEntry.at))
        .where(AuditEntry.object_type == "component", AuditEntry.action == "component.added")
        .group_by(AuditEntry.object_id)
    )
    return {str(key): at for key, at in rows}


def _incidents(
    session: Session, clock: Clock, cutoff: datetime
) -> tuple[list[IncidentRead], list[IncidentRead]]:
    """(unresolved, resolved since `cutoff`), each newest first."""
    open_states = sorted(OPEN_STATES)
    closed_states = [IncidentState.RESOLVED, IncidentState.POSTMORTEM]
    found: list[list[IncidentRead]] = []
    for states in (open_states, closed_states):
        reads: list[IncidentRead] = []
        cursor: str | None = None
        while True:
            page = incidents.list_incidents(
                session, clock=clock, states=states, limit=incidents.MAX_PAGE, cursor=cursor
            )
            for summary in page.items:
                if summary.resolved_at is not None and summary.resolved_at < cutoff:
                    continue
                reads.append(incidents.get_incident(session, clock=clock, ref=summary.ref))
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        found.append(reads)
    unresolved, resolved = found
    resolved.sort(key=lambda i: (i.resolved_at or i.updated_at, i.ref), reverse=True)
    return unresolved, resolved


def build_view(session: Session, *, clock: Clock, settings: Settings) -> StatusView:
    """Everything the public side shows, read in the caller's transaction."""
    now = clock.now()
    base_url = settings.public_base_url.rstrip("/")
    cutoff = now - timedelta(days=HISTORY_DAYS)
    catalogue = incidents.list_components(session)
    names = {c.key: c.name for c in catalogue}
    unresolved, resolved = _incidents(session, clock, cutoff)

    history_start = min([cutoff, *(i.detected_at for i in (*unresolved, *resolved))])
    history = incidents.component_history(session, since=history_start, until=now)
    worst_by_incident: dict[str, ComponentStatus] = {}
    for intervals in history.values():
        for interval in intervals:
            worst_by_incident[interval.incident_ref] = worst(
                [
                    worst_by_incident.get(interval.incident_ref, ComponentStatus.OPERATIONAL),
                    interval.status,
                ]
            )

    def view_of(incident: IncidentRead) -> IncidentView:
        return _incident_view(
            incident,
            names=names,
            worst_status=worst_by_incident.get(incident.ref, ComponentStatus.OPERATIONAL),
            base_url=base_url,
        )

    all_maintenances = [
        m
        for m in maintenance.list_maintenances(session, since=cutoff)
        if m.status is not MaintenanceStatus.CANCELLED
    ]
    current_maintenances = [
        m for m in all_maintenances if m.status is not MaintenanceStatus.COMPLETED
    ]
    current_maintenances.sort(
        key=lambda m: (m.status not in ACTIVE_STATUSES, m.scheduled_for, m.ref)
    )
    past_maintenances = sorted(
        (m for m in all_maintenances if m.status is MaintenanceStatus.COMPLETED),
        key=lambda m: (m.completed_at or m.updated_at, m.ref),
        reverse=True,
    )
    under_maintenance = {
        key for m in all_maintenances if m.status in ACTIVE_STATUSES for key in m.components
    }
    windows: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for m in all_maintenances:
        if m.started_at is not None:
            for key in m.components:
                windows.setdefault(key, []).append((m.started_at, m.completed_at))

    created = _component_created(session)
    epoch = min(created.values(), default=now)
    groups: dict[str, list[ComponentView]] = {}
    for c in catalogue:
        status = c.status
        if key_in_maintenance := c.key in under_maintenance:
            status = worst([status, ComponentStatus.UNDER_MAINTENANCE])
        days, percent = uptime_days(history.get(c.key, []), windows.get(c.key, []), now=now)
        created_at = created.get(c.key, epoch)
        changed = [t for t in (c.status_changed_at, created_at) if t is not None]
        if key_in_maintenance:
            changed += [
                m.started_at for m in all_maintenances if m.started_at and c.key in m.components
            ]
        groups.setdefault(c.group, []).append(
            ComponentView(
                key=c.key,
                name=c.name,
                description=c.description,
                group=c.group,
                position=c.position,
                status=status,
                created_at=created_at,
                updated_at=max(changed),
                uptime_percent=percent,
                uptime_days=days,
            )
        )
    group_views = [
        ComponentGroupView(
            name=name,
            position=index,
            status=worst(c.status for c in members),
            created_at=min(c.created_at for c in members),
            updated_at=max(c.updated_at for c in members),
            components=members,
        )
        for index, (name, members) in enumerate(groups.items(), start=1)
    ]
    # The promised cadence (incidents/cadence.py): when the next public update is due.
    cadence = incidents.load_cadence_policy(settings.data_dir)
    promises = {
        i.ref: incidents.cadence_status(session, clock=clock, ref=i.ref, policy=cadence)
        for i in unresolved
    }
    active = [
        view_of(i).model_copy(
            update={
                "next_update_due": promises[i.ref].next_update_due,
                "update_overdue": promises[i.ref].overdue,
            }
        )
        for i in unresolved
    ]
    stamps = [
        *(i.updated_at for i in (*unresolved, *resolved)),
        *(m.updated_at for m in all_maintenances),
        *(c.updated_at for g in group_views for c in g.components),
    ]
    return StatusView(
        page=PageView(
            name=settings.retailer_name,
            url=base_url,
            time_zone=TIME_ZONE,
            updated_at=max(stamps, default=now),
            brand=Brand(
                name=settings.retailer_name,
                logo_url=settings.brand_logo_url,
                primary_color=settings.brand_primary_color,
            ),
        ),
        status=overall_status(
            [c.status for g in group_views for c in g.components], (i.impact for i in active)
        ),
        groups=group_views,
        incidents=active,
        maintenances=[
            _maintenance_view(m, names=names, base_url=base_url) for m in current_maintenances
        ],
        past_incidents=[view_of(i) for i in resolved],
        past_maintenances=[
            _maintenance_view(m, names=names, base_url=base_url) for m in past_maintenances
        ],
    )

"""Scheduled maintenance: announce planned work, then start, verify, complete (or cancel) it.

Statuses follow Atlassian Statuspage (scheduled → in_progress → verifying → completed), plus
`cancelled` for work called off before it started (cancelled maintenances leave the public
page and JSON). While a maintenance is in progress or verifying, its components show
`under_maintenance` on the status page unless an incident gives them a worse status.

Every change writes an audit record and publishes `maintenance.changed` (core.events) in the
caller's transaction, so the status page re-renders after the change commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from firstword.core import audit, events
from firstword.core.auth.roles import Actor
from firstword.core.clock import Clock
from firstword.core.errors import InvalidInput, NotFound
from firstword.core.ids import next_value
from firstword.incidents import service as incidents
from firstword.statuspage.models import Maintenance, MaintenanceUpdate

MAINTENANCE_CHANGED = "maintenance.changed"
MAX_TITLE = 200
MAX_TEXT = 20_000
MAX_DURATION = timedelta(days=14)


class MaintenanceStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


TRANSITIONS: dict[MaintenanceStatus, frozenset[MaintenanceStatus]] = {
    MaintenanceStatus.SCHEDULED: frozenset(
        {MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.CANCELLED}
    ),
    MaintenanceStatus.IN_PROGRESS: frozenset(
        {MaintenanceStatus.VERIFYING, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.VERIFYING: frozenset(
        {MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.COMPLETED}
    ),
    MaintenanceStatus.COMPLETED: frozenset(),
    MaintenanceStatus.CANCELLED: frozenset(),
}
ACTIVE_STATUSES = frozenset({MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING})

DEFAULT_BODIES = {
    MaintenanceStatus.IN_PROGRESS: "Scheduled maintenance is currently in progress.",
    MaintenanceStatus.VERIFYING: "Maintenance work is done; we are verifying the results.",
    MaintenanceStatus.COMPLETED: "The scheduled maintenance has been completed.",
    MaintenanceStatus.CANCELLED: "This scheduled maintenance has been cancelled.",
}


def _no_control_chars(value: str) -> str:
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise ValueError("contains control characters")
    return value


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=MAX_TITLE),
    AfterValidator(_no_control_chars),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_TEXT),
    AfterValidator(_no_control_chars),
]
ComponentKey = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class MaintenanceSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Text = ""
    components: list[ComponentKey] = Field(default_factory=list, max_length=500)
    scheduled_for: datetime
    scheduled_until: datetime


class MaintenanceStep(BaseModel):
    """A status change (start, verify, complete, cancel) with an optional public message."""

    model_config = ConfigDict(extra="forbid")

    body: Text = ""


class MaintenanceUpdateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: MaintenanceStatus
    body: str
    posted_at: datetime
    posted_by: str


class MaintenanceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ref: str
    title: str
    body: str
    status: MaintenanceStatus
    components: list[str]
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    verifying_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    updates: list[MaintenanceUpdateRead]  # newest first


def _read(row: Maintenance) -> MaintenanceRead:
    updates = sorted(row.updates, key=lambda u: u.id, reverse=True)
    return MaintenanceRead.model_validate(
        {
            **{f: getattr(row, f) for f in MaintenanceRead.model_fields if f != "updates"},
            "components": list(row.components or []),
            "updates": [MaintenanceUpdateRead.model_validate(u) for u in updates],
        }
    )


def _aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(field, "needs a time zone (e.g. 2026-11-21T02:00:00Z)")
    return value


def _check_components(session: Session, keys: list[str]) -> list[str]:
    known = {c.key for c in incidents.list_components(session)}
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        if key not in known:
            listed = ", ".join(sorted(known)) or "none (load the catalogue)"
            raise InvalidInput(f"components.{key}", f"unknown component; known: {listed}")
    return wanted


def _find(session: Session, ref: str, *, lock: bool = False) -> Maintenance:
    stmt = select(Maintenance).where(Maintenance.ref == ref.strip().upper())
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"maintenance {ref} does not exist")
    return row


def _changed(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    row: Maintenance,
    action: str,
    detail: dict[str, object],
) -> None:
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action=f"maintenance.{action}",
        object_type="maintenance",
        object_id=row.ref,
        detail=detail,
    )
    events.publish(
        session,
        clock=clock,
        topic=MAINTENANCE_CHANGED,
        key=f"{row.ref}:{action}:{len(row.updates)}:{row.updated_at.isoformat()}",
        payload={"ref": row.ref, "action": action, "status": row.status},
        reference=row.ref,
    )


def schedule_maintenance(
    session: Session, *, clock: Clock, actor: Actor, data: MaintenanceSchedule
) -> MaintenanceRead:
    """Announce planned work on `components` between `scheduled_for` and `scheduled_until`."""
    now = clock.now()
    start = _aware("scheduled_for", data.scheduled_for)
    end = _aware("scheduled_until", data.scheduled_until)
    if end <= start:
        raise InvalidInput("scheduled_until", "must be after scheduled_for")
    if end - start > MAX_DURATION:
        raise InvalidInput("scheduled_until", "a maintenance window may last at most 14 days")
    if end <= now:
        raise InvalidInput("scheduled_until", "is in the past; nothing left to announce")
    keys = _check_components(session, data.components)
    ref = f"MNT-{now.year}-{next_value(session, f'maintenance:{now.year}'):04d}"
    row = Maintenance(
        ref=ref,
        title=data.title,
        body=data.body,
        status=MaintenanceStatus.SCHEDULED.value,
        components=keys,
        scheduled_for=start,
        scheduled_until=end,
        created_at=now,
        updated_at=now,
        created_by=actor.label,
    )
    row.updates.append(
        MaintenanceUpdate(
            status=MaintenanceStatus.SCHEDULED.value,
            body=data.body or data.title,
            posted_at=now,
            posted_by=actor.label,
        )
    )
    session.add(row)
    session.flush()
    _changed(
        session,
        clock=clock,
        actor=actor,
        row=row,
        action="scheduled",
        detail={
            "title": data.title,
            "components": keys,
            "scheduled_for": start.isoformat(),
            "scheduled_until": end.isoformat(),
        },
    )
    return _read(row)


def _move(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    ref: str,
    target: MaintenanceStatus,
    body: str,
) -> MaintenanceRead:
    row = _find(session, ref, lock=True)
    current = MaintenanceStatus(row.status)
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (it is over)"
        raise InvalidInput(
            "status", f"{row.ref} cannot move from {current} to {target}; allowed: {allowed}"
        )
    now = clock.now()
    stamp = {
        MaintenanceStatus.IN_PROGRESS: "started_at",
        MaintenanceStatus.VERIFYING: "verifying_at",
        MaintenanceStatus.COMPLETED: "completed_at",
        MaintenanceStatus.CANCELLED: "cancelled_at",
    }[target]
    if getattr(row, stamp) is None:
        setattr(row, stamp, now)
    row.status = target.value
    row.updated_at = now
    text = body.strip() or DEFAULT_BODIES[target]
    row.updates.append(
        MaintenanceUpdate(status=target.value, body=text, posted_at=now, posted_by=actor.label)
    )
    session.flush()
    _changed(
        session,
        clock=clock,
        actor=actor,
        row=row,
        action=target.value,
        detail={"before": current.value, "after": target.value, "body": text},
    )
    return _read(row)


def start_maintenance(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: MaintenanceStep
) -> MaintenanceRead:
    return _move(
        session,
        clock=clock,
        actor=actor,
        ref=ref,
        target=MaintenanceStatus.IN_PROGRESS,
        body=data.body,
    )


def verify_maintenance(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: MaintenanceStep
) -> MaintenanceRead:
    return _move(
        session,
        clock=clock,
        actor=actor,
        ref=ref,
        target=MaintenanceStatus.VERIFYING,
        body=data.body,
    )


def complete_maintenance(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: MaintenanceStep
) -> MaintenanceRead:
    return _move(
        session,
        clock=clock,
        actor=actor,
        ref=ref,
        target=MaintenanceStatus.COMPLETED,
        body=data.body,
    )


def cancel_maintenance(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: MaintenanceStep
) -> MaintenanceRead:
    return _move(
        session,
        clock=clock,
        actor=actor,
        ref=ref,
        target=MaintenanceStatus.CANCELLED,
        body=data.body,
    )


def get_maintenance(session: Session, *, ref: str) -> MaintenanceRead:
    return _read(_find(session, ref))


def list_maintenances(
    session: Session, *, since: datetime | None = None, include_cancelled: bool = True
) -> list[MaintenanceRead]:
    """Maintenances not over before `since` (all when None), soonest scheduled first."""
    stmt = select(Maintenance)
    if since is not None:
        stmt = stmt.where(
            or_(
                Maintenance.status.in_(
                    [MaintenanceStatus.SCHEDULED.value, *(s.value for s in ACTIVE_STATUSES)]
                ),
                Maintenance.updated_at >= since,
            )
        )
    if not include_cancelled:
        stmt = stmt.where(Maintenance.status != MaintenanceStatus.CANCELLED.value)
    rows = session.scalars(stmt.order_by(Maintenance.scheduled_for, Maintenance.id))
    return [_read(r) for r in rows]

"""Incident rows to the service's read schemas."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.clock import Clock
from firstword.core.errors import InvalidInput, NotFound
from firstword.incidents import transparency
from firstword.incidents.models import Incident, Task
from firstword.incidents.schemas import (
    AffectedComponent,
    IncidentRead,
    IncidentSummary,
    NoteRead,
    RoleAssignmentRead,
    TaskRead,
    UpdateRead,
)
from firstword.incidents.vocabulary import ComponentStatus, DataCategory, IncidentRole


def task_read(task: Task, now: datetime) -> TaskRead:
    read = TaskRead.model_validate(task)
    read.overdue = task.done_at is None and task.due_at is not None and task.due_at < now
    return read


def _task_order(task: Task) -> tuple[bool, datetime, int]:
    """Soonest due first; tasks without a due time last."""
    return (task.due_at is None, task.due_at or datetime.max.replace(tzinfo=UTC), task.id)


def _user_name(session: Session, user_id: int) -> str:
    try:
        return auth.get_user(session, user_id).name
    except NotFound:
        return f"user {user_id}"


def summary(incident: Incident) -> IncidentSummary:
    return IncidentSummary.model_validate(incident)


def incident_read(session: Session, incident: Incident, now: datetime) -> IncidentRead:
    components = sorted(
        incident.components, key=lambda ic: (ic.component.position, ic.component.key)
    )
    base = summary(incident).model_dump()
    return IncidentRead(
        **base,
        summary=incident.summary,
        customer_advice=incident.customer_advice,
        playbook=incident.playbook,
        opened_by=incident.opened_by,
        version=incident.version,
        components=[
            AffectedComponent(
                key=ic.component.key,
                name=ic.component.name,
                group=ic.component.group,
                status=ComponentStatus(ic.status),
            )
            for ic in components
        ],
        data_categories=sorted(DataCategory(c.category) for c in incident.data_categories),
        roles=[
            RoleAssignmentRead(
                role=IncidentRole(a.role),
                user_id=a.user_id,
                user_name=_user_name(session, a.user_id),
                assigned_at=a.assigned_at,
            )
            for a in sorted(incident.assignments, key=lambda a: a.id)
        ],
        tasks=[task_read(t, now) for t in sorted(incident.tasks, key=_task_order)],
        updates=[
            UpdateRead.model_validate(u)
            for u in sorted(incident.updates, key=lambda u: u.id, reverse=True)
        ],
        notes=[NoteRead.model_validate(n) for n in sorted(incident.notes, key=lambda n: n.id)],
        clock=transparency.derive(incident, now),
    )


def read_incident(session: Session, incident: Incident, clock: Clock) -> IncidentRead:
    """The incident as the service returns it, after flushing pending changes."""
    session.flush()
    return incident_read(session, incident, clock.now())


# List cursors are opaque to clients: base64 of {"before": <last id seen>}.
def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        last_id = value["before"]
        if not isinstance(last_id, int) or isinstance(last_id, bool):
            raise ValueError
        return last_id
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor", "not a cursor returned by this list") from None


def encode_cursor(last_id: int) -> str:
    raw = json.dumps({"before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")

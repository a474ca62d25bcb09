"""People and tasks on an incident: role assignments and the task list."""

from __future__ import annotations

from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor
from firstword.core.clock import Clock
from firstword.core.errors import Conflict, InvalidInput, NotFound
from firstword.incidents import transparency
from firstword.incidents.changes import find, human
from firstword.incidents.models import RoleAssignment, Task
from firstword.incidents.reading import read_incident
from firstword.incidents.schemas import IncidentRead, RoleAssign, TaskAdd
from firstword.incidents.timeline import record_change


def _active_user(session: Session, user_id: int, field: str) -> auth.UserRead:
    user = auth.get_user(session, user_id)
    if not user.is_active:
        raise InvalidInput(field, f"user {user_id} ({user.email}) is deactivated")
    return user


def assign_role(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: RoleAssign
) -> IncidentRead:
    incident = find(session, ref, lock=True)
    user = _active_user(session, data.user_id, "user_id")
    if any(a.role == data.role.value and a.user_id == user.id for a in incident.assignments):
        raise Conflict(f"{user.name} is already {human(data.role)} on {incident.ref}")
    incident.assignments.append(
        RoleAssignment(role=data.role.value, user_id=user.id, assigned_at=clock.now())
    )
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="role_assigned",
        summary=f"{user.name} ({user.email}) is now {human(data.role)}",
        after={"role": data.role, "user_id": user.id, "user": user.email},
    )
    return read_incident(session, incident, clock)


def unassign_role(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: RoleAssign
) -> IncidentRead:
    incident = find(session, ref, lock=True)
    match = [
        a for a in incident.assignments if a.role == data.role.value and a.user_id == data.user_id
    ]
    if not match:
        raise NotFound(f"user {data.user_id} is not {human(data.role)} on {incident.ref}")
    incident.assignments.remove(match[0])
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="role_unassigned",
        summary=f"User {data.user_id} is no longer {human(data.role)}",
        before={"role": data.role, "user_id": data.user_id},
    )
    return read_incident(session, incident, clock)


def add_task(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: TaskAdd
) -> IncidentRead:
    incident = find(session, ref, lock=True)
    due = transparency.aware("due_at", data.due_at) if data.due_at is not None else None
    if data.assignee_user_id is not None:
        _active_user(session, data.assignee_user_id, "assignee_user_id")
    task = Task(
        title=data.title,
        description=data.description,
        owner_role=data.owner_role.value,
        assignee_user_id=data.assignee_user_id,
        due_at=due,
        source="manual",
        created_at=clock.now(),
    )
    incident.tasks.append(task)
    session.flush()
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="task_added",
        summary=f"Task #{task.id} added for {human(data.owner_role)}: {data.title}",
        after={
            "task_id": task.id,
            "title": data.title,
            "owner_role": data.owner_role,
            "due_at": due,
            "assignee_user_id": data.assignee_user_id,
        },
    )
    return read_incident(session, incident, clock)


def complete_task(
    session: Session, *, clock: Clock, actor: Actor, ref: str, task_id: int
) -> IncidentRead:
    incident = find(session, ref, lock=True)
    task = next((t for t in incident.tasks if t.id == task_id), None)
    if task is None:
        raise NotFound(f"task {task_id} is not a task of {incident.ref}")
    if task.done_at is not None:
        raise Conflict(
            f"task {task_id} was already done by {task.done_by} at {task.done_at.isoformat()}"
        )
    now = clock.now()
    task.done_at = now
    task.done_by = actor.label
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="task_done",
        summary=f"Task #{task.id} done: {task.title}",
        before={"task_id": task.id, "done_at": None},
        after={"task_id": task.id, "done_at": now, "done_by": actor.label},
    )
    return read_incident(session, incident, clock)

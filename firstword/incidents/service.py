"""The incidents service: the rules of opening, changing and reading incidents.

This module is the domain's public face (`from firstword.incidents import service as
incidents`). Services flush but never commit; the caller owns the transaction. Every change
appends a timeline entry and an audit record (see timeline.py) and bumps `version`.
Input is validated completely before anything is written, so a refused command changes
nothing.

The verbs live here; their parts in changes.py (find, validate, apply component and state
changes), assignments.py (roles, tasks), reading.py, timeline.py, transparency.py (the
clock), catalogue.py (components) and playbook.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from firstword.core.auth.roles import Actor
from firstword.core.clock import Clock
from firstword.core.db import is_postgresql
from firstword.core.errors import Conflict, InvalidInput
from firstword.core.ids import next_value
from firstword.incidents import cadence, catalogue, changes, history, reading, transparency
from firstword.incidents.assignments import add_task, assign_role, complete_task, unassign_role
from firstword.incidents.cadence import CadencePolicy, load_policy
from firstword.incidents.catalogue import (
    add_component,
    ensure_component_catalogue,
    list_components,
)
from firstword.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentDataCategory,
    InternalNote,
    PublicUpdate,
    Task,
)
from firstword.incidents.playbook import Playbook, list_playbooks, load_library, load_playbook_file
from firstword.incidents.reading import decode_cursor, encode_cursor, read_incident
from firstword.incidents.schemas import (
    CadenceMiss,
    CadenceStatus,
    ClockMark,
    ComponentStatusChange,
    DataCategoriesChange,
    IncidentCreate,
    IncidentEdit,
    IncidentRead,
    IncidentSummary,
    NoteAdd,
    OverdueUpdate,
    Page,
    StateChange,
    StatusInterval,
    TimelineEntryRead,
    UpdatePost,
)
from firstword.incidents.timeline import entries, record_change
from firstword.incidents.vocabulary import (
    OPEN_STATES,
    IncidentKind,
    IncidentState,
)

__all__ = [
    "CadencePolicy",
    "Playbook",
    "add_component",
    "add_note",
    "add_task",
    "assign_role",
    "cadence_misses",
    "cadence_status",
    "change_data_categories",
    "change_state",
    "check_overdue_updates",
    "complete_task",
    "component_history",
    "edit_incident",
    "ensure_component_catalogue",
    "get_incident",
    "list_components",
    "list_incidents",
    "list_playbooks",
    "load_cadence_policy",
    "load_playbook_file",
    "mark_clock",
    "open_incident",
    "post_update",
    "set_component_status",
    "timeline",
    "unassign_role",
]

MAX_PAGE = 200
_OPENING_LOCK = 7243002  # PostgreSQL advisory lock serialising duplicate checks on opening


# --- opening ----------------------------------------------------------------------------


def open_incident(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    data: IncidentCreate,
    playbook_dirs: Sequence[Path] = (),
) -> IncidentRead:
    """Open an incident, with the tasks of its playbook due relative to detection."""
    now = clock.now()
    detected = (
        transparency.check_not_future("detected_at", data.detected_at, now)
        if data.detected_at is not None
        else now
    )
    rows = changes.resolve_components(session, data.components)
    library = load_library(playbook_dirs, strict=False)
    if data.playbook is not None:
        chosen = library.by_key.get(data.playbook)
        if chosen is None:
            known = ", ".join(sorted(library.by_key)) or "none"
            broken = "; ".join(p.message for p in library.problems)
            raise InvalidInput(
                "playbook",
                f"unknown playbook {data.playbook!r}; known: {known}"
                + (f" (files that failed to load: {broken})" if broken else ""),
            )
    else:
        chosen = library.default_for(data.kind)
    if is_postgresql(session):
        session.execute(text(f"SELECT pg_advisory_xact_lock({_OPENING_LOCK})"))
    wanted_title = changes.normalised_title(data.title)
    for ref, title in session.execute(
        select(Incident.ref, Incident.title).where(
            Incident.kind == data.kind.value, Incident.state.in_([s.value for s in OPEN_STATES])
        )
    ):
        if changes.normalised_title(title) == wanted_title:
            raise Conflict(f"{ref} is already open with this title; update it instead")

    year = now.year
    ref = f"INC-{year}-{next_value(session, f'incident:{year}'):04d}"
    incident = Incident(
        ref=ref,
        title=data.title,
        kind=data.kind.value,
        severity=data.severity.value,
        state=IncidentState.INVESTIGATING.value,
        summary=data.summary,
        customer_advice=data.customer_advice,
        playbook=chosen.playbook.key if chosen else None,
        opened_by=actor.label,
        created_at=now,
        updated_at=now,
        detected_at=detected,
        version=1,
    )
    for key, status in data.components.items():
        incident.components.append(IncidentComponent(component=rows[key], status=status.value))
    for category in dict.fromkeys(data.data_categories):
        incident.data_categories.append(IncidentDataCategory(category=category.value, added_at=now))
    if chosen is not None:
        for task in chosen.playbook.tasks:
            incident.tasks.append(
                Task(
                    title=task.title,
                    description=task.description,
                    owner_role=task.owner_role.value,
                    due_at=detected + task.due_after,
                    source=chosen.playbook.key,
                    created_at=now,
                )
            )
    session.add(incident)
    session.flush()

    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="opened",
        bump=False,
        summary=f"Opened {ref}: {data.title} ({changes.human(data.kind)}, {data.severity})",
        after={
            "title": data.title,
            "kind": data.kind,
            "severity": data.severity,
            "state": incident.state,
            "detected_at": detected,
            "summary": data.summary,
            "customer_advice": data.customer_advice,
            "components": {k: v.value for k, v in data.components.items()},
            "data_categories": [c.value for c in dict.fromkeys(data.data_categories)],
            "playbook": incident.playbook,
        },
    )
    if chosen is not None:
        record_change(
            session,
            clock=clock,
            actor=actor,
            incident=incident,
            kind="playbook_applied",
            bump=False,
            summary=f"Playbook {chosen.playbook.name!r} added {len(chosen.playbook.tasks)} tasks",
            after={
                "playbook": chosen.playbook.key,
                "source": chosen.source,
                "tasks": [t.title for t in chosen.playbook.tasks],
            },
        )
    for problem in library.problems:
        record_change(
            session,
            clock=clock,
            actor=actor,
            incident=incident,
            kind="playbook_problem",
            bump=False,
            summary=f"A playbook file was skipped: {problem.message}",
            after={"file": problem.field, "reason": problem.reason},
        )
    catalogue.roll_up(session, clock=clock, component_ids=[r.id for r in rows.values()])
    return read_incident(session, incident, clock)


# --- reading ----------------------------------------------------------------------------


def get_incident(session: Session, *, clock: Clock, ref: str) -> IncidentRead:
    return read_incident(session, changes.find(session, ref), clock)


def list_incidents(
    session: Session,
    *,
    clock: Clock,
    states: Sequence[IncidentState] | None = None,
    kind: IncidentKind | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[IncidentSummary]:
    """Newest first (by opening order), `limit` per page; pass `next_cursor` back as `cursor`."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
    filters: list[ColumnElement[bool]] = []
    if states:
        filters.append(Incident.state.in_([IncidentState(s).value for s in states]))
    if kind is not None:
        filters.append(Incident.kind == IncidentKind(kind).value)
    total = session.scalar(select(func.count(Incident.id)).where(*filters)) or 0
    stmt = select(Incident).where(*filters)
    if cursor:
        stmt = stmt.where(Incident.id < decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(Incident.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[IncidentSummary](
        items=[reading.summary(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
        total=total,
    )


def component_history(
    session: Session, *, since: datetime, until: datetime
) -> dict[str, list[StatusInterval]]:
    """Per component key, the stretches of non-operational status any incident gave it that
    overlap [since, until), from the timeline (see history.py). For uptime history."""
    return history.component_history(session, since=since, until=until)


def timeline(session: Session, *, ref: str) -> list[TimelineEntryRead]:
    """Every change to the incident, oldest first."""
    return entries(session, changes.find(session, ref).id)


# --- changing ---------------------------------------------------------------------------


def edit_incident(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: IncidentEdit
) -> IncidentRead:
    incident = changes.find(session, ref, lock=True)
    if data.expected_version is not None and data.expected_version != incident.version:
        raise Conflict(
            f"{incident.ref} was changed meanwhile (now version {incident.version}, you edited "
            f"version {data.expected_version}); reload it and apply your edit again"
        )
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    for field in ("title", "severity", "summary", "customer_advice"):
        value = getattr(data, field)
        if value is None:
            continue
        value = str(value)
        if getattr(incident, field) != value:
            before[field] = getattr(incident, field)
            after[field] = value
    if after:
        for field, value in after.items():
            setattr(incident, field, value)
        parts = [
            f"severity {before['severity']} → {after['severity']}"
            if f == "severity"
            else f"{changes.human(f)} changed"
            for f in after
        ]
        record_change(
            session,
            clock=clock,
            actor=actor,
            incident=incident,
            kind="edited",
            summary="Edited: " + ", ".join(parts),
            before=before,
            after=after,
        )
    return read_incident(session, incident, clock)


def change_state(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: StateChange
) -> IncidentRead:
    incident = changes.find(session, ref, lock=True)
    changes.check_transition(incident, data.state)
    touched = changes.apply_state(
        session, clock=clock, actor=actor, incident=incident, target=data.state, note=data.note
    )
    catalogue.roll_up(session, clock=clock, component_ids=touched)
    return read_incident(session, incident, clock)


def set_component_status(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: ComponentStatusChange
) -> IncidentRead:
    incident = changes.find(session, ref, lock=True)
    rows = changes.resolve_components(session, data.components, incident)
    touched = changes.apply_components(
        session, clock=clock, actor=actor, incident=incident, rows=rows, wanted=data.components
    )
    catalogue.roll_up(session, clock=clock, component_ids=touched)
    return read_incident(session, incident, clock)


def change_data_categories(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: DataCategoriesChange
) -> IncidentRead:
    incident = changes.find(session, ref, lock=True)
    both = sorted(set(data.add) & set(data.remove))
    if both:
        raise InvalidInput("remove", f"both added and removed: {', '.join(both)}")
    current = {c.category: c for c in incident.data_categories}
    added = [c.value for c in dict.fromkeys(data.add) if c.value not in current]
    removed = [c.value for c in dict.fromkeys(data.remove) if c.value in current]
    if added or removed:
        now = clock.now()
        before = sorted(current)
        for category in added:
            incident.data_categories.append(IncidentDataCategory(category=category, added_at=now))
        for category in removed:
            incident.data_categories.remove(current[category])
        parts = ([f"added {', '.join(changes.human(c) for c in added)}"] if added else []) + (
            [f"removed {', '.join(changes.human(c) for c in removed)}"] if removed else []
        )
        record_change(
            session,
            clock=clock,
            actor=actor,
            incident=incident,
            kind="data_categories_changed",
            summary="Data categories: " + "; ".join(parts),
            before={"data_categories": before},
            after={"data_categories": sorted((set(before) | set(added)) - set(removed))},
        )
    return read_incident(session, incident, clock)


def post_update(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: UpdatePost
) -> IncidentRead:
    """Publish an update. Component statuses and the state, when given, change first (one
    timeline entry each), so the update carries the situation it describes."""
    incident = changes.find(session, ref, lock=True)
    rows = changes.resolve_components(session, data.components, incident)
    move = data.state is not None and data.state.value != incident.state
    if data.state is not None and move:
        changes.check_transition(incident, data.state)
    touched = changes.apply_components(
        session, clock=clock, actor=actor, incident=incident, rows=rows, wanted=data.components
    )
    if data.state is not None and move:
        touched |= changes.apply_state(
            session, clock=clock, actor=actor, incident=incident, target=data.state
        )
    now = clock.now()
    snapshot = {ic.component.key: ic.status for ic in incident.components}
    incident.updates.append(
        PublicUpdate(
            state=incident.state,
            body=data.body,
            posted_at=now,
            posted_by=actor.label,
            component_statuses=snapshot,
        )
    )
    before: dict[str, object] = {
        "last_public_update_at": incident.last_public_update_at,
        "next_update_promised_at": incident.next_update_promised_at,
    }
    promised = (
        now + timedelta(minutes=data.next_update_in_minutes)
        if data.next_update_in_minutes is not None
        else None
    )
    incident.next_update_promised_at = promised
    after: dict[str, object] = {"last_public_update_at": now, "next_update_promised_at": promised}
    if incident.acknowledged_at is None:
        before["acknowledged_at"] = None
        after["acknowledged_at"] = now
        incident.acknowledged_at = now
    incident.last_public_update_at = now
    after.update(body=data.body, state=incident.state, components=snapshot)
    first = "First public update" if "acknowledged_at" in after else "Public update"
    if promised is not None:
        first += f", next promised by {promised:%Y-%m-%d %H:%M} UTC"
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="public_update",
        summary=f"{first} ({changes.human(incident.state)}): {data.body}",
        before=before,
        after=after,
        public=True,
    )
    catalogue.roll_up(session, clock=clock, component_ids=touched)
    return read_incident(session, incident, clock)


def add_note(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: NoteAdd
) -> IncidentRead:
    """An internal note: staff only, never published."""
    incident = changes.find(session, ref, lock=True)
    incident.notes.append(InternalNote(body=data.body, created_at=clock.now(), author=actor.label))
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="note_added",
        summary=f"Internal note: {data.body}",
        after={"note": data.body},
    )
    return read_incident(session, incident, clock)


def mark_clock(
    session: Session, *, clock: Clock, actor: Actor, ref: str, data: ClockMark
) -> IncidentRead:
    """Record a transparency-clock milestone: customers notified, or contained."""
    incident = changes.find(session, ref, lock=True)
    now = clock.now()
    at = (
        transparency.check_moment("at", data.at, detected_at=incident.detected_at, now=now)
        if data.at is not None
        else now
    )
    field = f"{data.event}_at"
    before = getattr(incident, field)
    setattr(incident, field, at)
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="clock_marked",
        summary=f"Clock: {changes.human(data.event)} at {at.isoformat()}",
        before={field: before},
        after={field: at},
    )
    return read_incident(session, incident, clock)


# --- the update cadence (cadence.py) -------------------------------------------------------


def load_cadence_policy(data_dir: Path | None = None) -> CadencePolicy:
    """Update intervals per severity: incidents/cadence.yaml, overridden by
    DATA_DIR/cadence.yaml (a broken user file is ignored and named in `policy.problem`)."""
    return load_policy(data_dir)


def cadence_status(
    session: Session, *, clock: Clock, ref: str, policy: CadencePolicy | None = None
) -> CadenceStatus:
    """When the incident's next public update is due, and whether it is overdue.
    `policy`: from load_cadence_policy(settings.data_dir); the shipped intervals if None."""
    return cadence.cadence_status(session, clock=clock, ref=ref, policy=policy or load_policy())


def check_overdue_updates(
    session: Session, *, clock: Clock, policy: CadencePolicy | None = None, base_url: str = ""
) -> list[OverdueUpdate]:
    """Every open incident whose public update is overdue. Each missed due time is recorded
    once (an `update_overdue` timeline entry, its audit record, and an e-mail through the
    outbox to each communications lead and incident commander on the incident); checking
    again records nothing more. `base_url` makes the e-mail's link absolute. The worker's
    scheduler calls this every minute."""
    return cadence.check_overdue(
        session, clock=clock, policy=policy or load_policy(), base_url=base_url
    )


def cadence_misses(session: Session, *, ref: str) -> list[CadenceMiss]:
    """The incident's recorded cadence misses, oldest first, with how late the update came
    (for the transparency scorecard)."""
    return cadence.misses(session, ref=ref)

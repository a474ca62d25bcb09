"""The building blocks of incident changes, shared by the service verbs: finding an incident
for change, validating component keys and state transitions, and applying component and state
changes with their timeline entries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.core.auth.roles import Actor
from firstword.core.clock import Clock
from firstword.core.errors import InvalidInput, NotFound
from firstword.incidents import catalogue
from firstword.incidents.models import Component, Incident, IncidentComponent
from firstword.incidents.timeline import record_change
from firstword.incidents.vocabulary import TRANSITIONS, ComponentStatus, IncidentState


def human(value: str) -> str:
    return value.replace("_", " ")


def normalised_title(title: str) -> str:
    return " ".join(title.split()).casefold()


def find(session: Session, ref: str, *, lock: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.ref == ref.strip().upper())
    if lock:
        # Changes to one incident are serialised (PostgreSQL row lock; SQLite's BEGIN
        # IMMEDIATE already serialises writers). Re-read so the version check is current.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    incident = session.scalars(stmt).first()
    if incident is None:
        raise NotFound(f"incident {ref} does not exist")
    return incident


def resolve_components(
    session: Session, wanted: dict[str, ComponentStatus], incident: Incident | None = None
) -> dict[str, Component]:
    """The catalogue rows for `wanted`, or InvalidInput naming the first unknown key.
    Retired components are unknown unless the incident already lists them."""
    found = catalogue.components_by_key(session, wanted)
    on_incident = {ic.component.key for ic in incident.components} if incident else set()
    for key in wanted:
        row = found.get(key)
        if row is None or not (row.is_active or key in on_incident):
            known = ", ".join(catalogue.active_keys(session)) or "none (load the catalogue)"
            raise InvalidInput(f"components.{key}", f"unknown component; known: {known}")
    return found


def check_transition(incident: Incident, target: IncidentState) -> None:
    current = IncidentState(incident.state)
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(allowed)) or "none (a postmortem is final)"
        raise InvalidInput(
            "state",
            f"{incident.ref} cannot move from {current} to {target}; "
            f"allowed from {current}: {options}",
        )


def apply_components(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    incident: Incident,
    rows: dict[str, Component],
    wanted: dict[str, ComponentStatus],
    why: str = "",
) -> set[int]:
    """Set the incident's component statuses; one timeline entry for the lot. Returns the
    catalogue ids whose rolled-up status must be recomputed."""
    current = {ic.component.key: ic for ic in incident.components}
    before: dict[str, str | None] = {}
    after: dict[str, str] = {}
    for key, status in wanted.items():
        link = current.get(key)
        if link is None:
            incident.components.append(IncidentComponent(component=rows[key], status=status.value))
            before[key] = None
        elif link.status != status.value:
            before[key] = link.status
            link.status = status.value
        else:
            continue
        after[key] = status.value
    if not after:
        return set()
    names = {ic.component.key: ic.component.name for ic in incident.components}
    names.update({k: r.name for k, r in rows.items()})
    parts = [
        f"{names[k]}: {human(before[k] or 'not affected')} → {human(v)}" for k, v in after.items()
    ]
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="components_changed",
        summary=why + "; ".join(parts),
        before={"components": before},
        after={"components": after},
    )
    return {rows[k].id if k in rows else current[k].component_id for k in after}


def apply_state(
    session: Session,
    *,
    clock: Clock,
    actor: Actor,
    incident: Incident,
    target: IncidentState,
    note: str = "",
) -> set[int]:
    """Move the incident to `target` (already checked) with its clock effects. Resolving
    returns every affected component to operational within this incident."""
    now = clock.now()
    touched: set[int] = set()
    if target == IncidentState.RESOLVED:
        still_affected = {
            ic.component.key: ComponentStatus.OPERATIONAL
            for ic in incident.components
            if ic.status != ComponentStatus.OPERATIONAL.value
        }
        if still_affected:
            rows = {ic.component.key: ic.component for ic in incident.components}
            touched = apply_components(
                session,
                clock=clock,
                actor=actor,
                incident=incident,
                rows=rows,
                wanted=still_affected,
                why="Resolved, so back to operational: ",
            )
    before: dict[str, object] = {"state": incident.state}
    after: dict[str, object] = {"state": target.value}

    def stamp(field: str, value: object) -> None:
        before[field] = getattr(incident, field)
        after[field] = value
        setattr(incident, field, value)

    if target == IncidentState.RESOLVED:
        stamp("resolved_at", now)
        if incident.contained_at is None:
            stamp("contained_at", now)
    elif target == IncidentState.POSTMORTEM:
        stamp("postmortem_at", now)
    elif incident.state == IncidentState.RESOLVED.value:
        stamp("resolved_at", None)  # reopened
    summary = f"State {human(incident.state)} → {human(target.value)}"
    incident.state = target.value
    if note:
        after["note"] = note
        summary += f": {note}"
    record_change(
        session,
        clock=clock,
        actor=actor,
        incident=incident,
        kind="state_changed",
        summary=summary,
        before=before,
        after=after,
    )
    return touched | {ic.component_id for ic in incident.components}

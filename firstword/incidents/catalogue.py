"""The component catalogue: what the retailer's customers can see break (data, editable).

Shipped in incidents/components.yaml; a user file of the same shape (DATA_DIR/components.yaml)
renames, regroups, reorders or retires shipped entries and adds new ones. A component's
`status` is derived: the worst status any open incident gives it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.core import audit
from firstword.core.auth.roles import Actor
from firstword.core.clock import Clock
from firstword.core.errors import Conflict, InvalidInput
from firstword.incidents import datafiles
from firstword.incidents.models import Component, Incident, IncidentComponent
from firstword.incidents.schemas import ComponentIn, ComponentRead
from firstword.incidents.vocabulary import OPEN_STATES, STATUS_RANK, ComponentStatus

SHIPPED_FILE = Path(__file__).resolve().parent / "components.yaml"

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Group = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


class CatalogueEntry(BaseModel):
    """One entry of a catalogue file. In a user file, an entry for a shipped key may give only
    the fields it changes."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    name: Name | None = None
    group: Group | None = None
    description: Text | None = None
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    retired: bool = False


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    components: list[CatalogueEntry] = Field(max_length=2000)


def _read_file(path: Path) -> list[CatalogueEntry]:
    text = datafiles.read_text(path)
    parsed = datafiles.parse(text, path.name, CatalogueFile)
    seen: set[str] = set()
    for index, entry in enumerate(parsed.components):
        if entry.key in seen:
            line = datafiles.key_line(text, index, "components")
            raise InvalidInput(f"{path.name}:{line}", f"component {entry.key!r} is listed twice")
        seen.add(entry.key)
    return parsed.components


def merged_catalogue(user_file: Path | None = None) -> dict[str, ComponentIn | None]:
    """key -> the entry after user overrides, or None when the user retired it."""
    shipped = _read_file(SHIPPED_FILE)
    merged: dict[str, dict[str, object]] = {}
    retired: set[str] = set()
    for index, entry in enumerate(shipped):
        values = entry.model_dump(exclude={"retired"})
        values["position"] = entry.position if entry.position is not None else (index + 1) * 10
        merged[entry.key] = values
    if user_file is not None and user_file.exists():
        text = datafiles.read_text(user_file)
        for index, entry in enumerate(_read_file(user_file)):
            changes = entry.model_dump(exclude={"retired", "key"}, exclude_none=True)
            if entry.key in merged:
                merged[entry.key].update(changes)
            else:
                if not entry.retired and (entry.name is None or entry.group is None):
                    line = datafiles.key_line(text, index, "components")
                    raise InvalidInput(
                        f"{user_file.name}:{line}",
                        f"new component {entry.key!r} needs a name and a group",
                    )
                values = entry.model_dump(exclude={"retired"})
                if values["position"] is None:
                    values["position"] = 10_000 + index * 10  # after the shipped entries
                merged[entry.key] = values
            if entry.retired:
                retired.add(entry.key)
            else:
                retired.discard(entry.key)
    result: dict[str, ComponentIn | None] = {}
    for key, values in merged.items():
        values.setdefault("description", "")
        if values.get("description") is None:
            values["description"] = ""
        result[key] = None if key in retired else ComponentIn.model_validate(values)
    return result


def _read(component: Component) -> ComponentRead:
    return ComponentRead.model_validate(component)


def _ordered(components: Iterable[Component]) -> list[Component]:
    """By group (groups in catalogue order: by their first position), then position."""
    items = list(components)
    group_rank: dict[str, int] = {}
    for c in items:
        group_rank[c.group] = min(group_rank.get(c.group, c.position), c.position)
    return sorted(items, key=lambda c: (group_rank[c.group], c.group, c.position, c.key))


def list_components(session: Session) -> list[ComponentRead]:
    """Active components, by group then position."""
    rows = session.scalars(select(Component).where(Component.is_active.is_(True)))
    return [_read(c) for c in _ordered(rows)]


def components_by_key(session: Session, keys: Iterable[str]) -> dict[str, Component]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = session.scalars(select(Component).where(Component.key.in_(wanted)))
    return {c.key: c for c in rows}


def active_keys(session: Session) -> list[str]:
    return sorted(session.scalars(select(Component.key).where(Component.is_active.is_(True))))


def ensure_component_catalogue(
    session: Session, *, clock: Clock, actor: Actor, user_file: Path | None = None
) -> list[ComponentRead]:
    """Bring the stored catalogue in line with the shipped file and the user's file: insert
    missing entries, apply renames/regrouping/retirement. Never touches status. Idempotent."""
    merged = merged_catalogue(user_file)
    existing = components_by_key(session, merged)
    for key, entry in merged.items():
        row = existing.get(key)
        if row is None:
            if entry is None:
                continue  # retired before it was ever stored
            row = Component(
                key=key,
                name=entry.name,
                group=entry.group,
                description=entry.description,
                position=entry.position,
                status=ComponentStatus.OPERATIONAL.value,
                is_active=True,
            )
            session.add(row)
            audit.record(
                session,
                clock=clock,
                actor=actor.label,
                action="component.added",
                object_type="component",
                object_id=key,
                detail=entry.model_dump(),
            )
            continue
        before = {
            "name": row.name,
            "group": row.group,
            "description": row.description,
            "position": row.position,
            "is_active": row.is_active,
        }
        after = (
            dict(before, is_active=False)
            if entry is None
            else {
                "name": entry.name,
                "group": entry.group,
                "description": entry.description,
                "position": entry.position,
                "is_active": True,
            }
        )
        if after != before:
            for field, value in after.items():
                setattr(row, field, value)
            changed = {k: v for k, v in after.items() if before[k] != v}
            audit.record(
                session,
                clock=clock,
                actor=actor.label,
                action="component.changed",
                object_type="component",
                object_id=key,
                detail={"before": {k: before[k] for k in changed}, "after": changed},
            )
    session.flush()
    return list_components(session)


def add_component(
    session: Session, *, clock: Clock, actor: Actor, data: ComponentIn
) -> ComponentRead:
    if components_by_key(session, [data.key]):
        raise Conflict(f"component {data.key} exists already")
    row = Component(
        key=data.key,
        name=data.name,
        group=data.group,
        description=data.description,
        position=data.position,
        status=ComponentStatus.OPERATIONAL.value,
        is_active=True,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        clock=clock,
        actor=actor.label,
        action="component.added",
        object_type="component",
        object_id=data.key,
        detail=data.model_dump(),
    )
    return _read(row)


def roll_up(session: Session, *, clock: Clock, component_ids: Iterable[int]) -> None:
    """Set each component's catalogue status to the worst status any open incident gives it
    (operational when none), so the status page can read it directly."""
    ids = sorted(set(component_ids))
    if not ids:
        return
    session.flush()
    worst: dict[int, ComponentStatus] = {}
    rows = session.execute(
        select(IncidentComponent.component_id, IncidentComponent.status)
        .join(Incident, Incident.id == IncidentComponent.incident_id)
        .where(
            IncidentComponent.component_id.in_(ids),
            Incident.state.in_([s.value for s in OPEN_STATES]),
        )
    )
    for component_id, status in rows:
        current = worst.get(component_id, ComponentStatus.OPERATIONAL)
        candidate = ComponentStatus(status)
        if STATUS_RANK[candidate] > STATUS_RANK[current]:
            worst[component_id] = candidate
    now = clock.now()
    for component in session.scalars(select(Component).where(Component.id.in_(ids))):
        status = worst.get(component.id, ComponentStatus.OPERATIONAL).value
        if component.status != status:
            component.status = status
            component.status_changed_at = now
    session.flush()

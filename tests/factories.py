"""Test data made through the services (never by inserting rows), so tests see real objects."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor, Role, system_actor
from firstword.core.clock import Clock
from firstword.incidents import service as incidents
from firstword.incidents.schemas import ComponentRead, IncidentCreate, IncidentRead

PASSWORD = "correct horse battery staple"
_serial = itertools.count(1)


def make_user(
    session: Session,
    clock: Clock,
    roles: Sequence[str | Role] = ("incident_commander",),
    email: str | None = None,
    name: str | None = None,
    password: str = PASSWORD,
) -> auth.UserRead:
    """A staff user (password `PASSWORD` unless given)."""
    n = next(_serial)
    return auth.create_user(
        session,
        clock=clock,
        actor=system_actor("tests"),
        email=email or f"user{n}@example.com",
        name=name or f"Test User {n}",
        password=password,
        roles=[str(r) for r in roles],
    )


def actor_for(user: auth.UserRead) -> Actor:
    """The Actor a signed-in `user` would be."""
    return Actor(
        kind="user", name=user.email, roles=frozenset(Role(r) for r in user.roles), user_id=user.id
    )


def ensure_catalogue(
    session: Session, clock: Clock, user_file: Path | None = None
) -> list[ComponentRead]:
    """Load the shipped component catalogue (idempotent)."""
    return incidents.ensure_component_catalogue(
        session, clock=clock, actor=system_actor("tests"), user_file=user_file
    )


def make_incident(
    session: Session,
    clock: Clock,
    actor: Actor | None = None,
    playbook_dirs: Sequence[Path] = (),
    **overrides: Any,
) -> IncidentRead:
    """An open incident; every field of IncidentCreate may be overridden. The title is unique
    per call (so no duplicate-opening conflict). Component keys need `ensure_catalogue` first;
    it is called for you when `components` is given."""
    fields: dict[str, Any] = {
        "title": f"Online checkout failing for some customers #{next(_serial)}",
        "kind": "outage",
        "severity": "SEV2",
    }
    fields.update(overrides)
    if fields.get("components"):
        ensure_catalogue(session, clock)
    return incidents.open_incident(
        session,
        clock=clock,
        actor=actor or system_actor("tests"),
        data=IncidentCreate.model_validate(fields),
        playbook_dirs=playbook_dirs,
    )

"""Incident tables. Private to the incidents domain: other code goes through service.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from firstword.core.db import Base


class Component(Base):
    """One entry of the retailer's component catalogue (data, editable)."""

    __tablename__ = "components"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    group: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(40), default="operational")
    status_changed_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(default=True)  # retired entries stay for history


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(30), unique=True)  # INC-2026-0001
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    customer_advice: Mapped[str] = mapped_column(Text, default="")  # "what you should do"
    playbook: Mapped[str | None] = mapped_column(String(100))
    opened_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The transparency clock
    detected_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]  # first public word
    customers_notified_at: Mapped[datetime | None]
    contained_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    postmortem_at: Mapped[datetime | None]
    last_public_update_at: Mapped[datetime | None]
    # An explicit public promise made with the last update ("next update by 08:00"), which
    # replaces the severity's cadence until the next update; None: the cadence applies.
    next_update_promised_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)  # optimistic concurrency for edits

    components: Mapped[list[IncidentComponent]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="IncidentComponent.id"
    )
    data_categories: Mapped[list[IncidentDataCategory]] = relationship(
        cascade="all, delete-orphan", order_by="IncidentDataCategory.category"
    )
    assignments: Mapped[list[RoleAssignment]] = relationship(
        cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )
    tasks: Mapped[list[Task]] = relationship(cascade="all, delete-orphan", order_by="Task.id")
    updates: Mapped[list[PublicUpdate]] = relationship(
        cascade="all, delete-orphan", order_by="PublicUpdate.id.desc()"
    )
    notes: Mapped[list[InternalNote]] = relationship(
        cascade="all, delete-orphan", order_by="InternalNote.id"
    )


class IncidentComponent(Base):
    """A component affected by an incident, with its status in that incident."""

    __tablename__ = "incident_components"
    __table_args__ = (UniqueConstraint("incident_id", "component_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id"), index=True)
    status: Mapped[str] = mapped_column(String(40))
    incident: Mapped[Incident] = relationship(back_populates="components")
    component: Mapped[Component] = relationship()


class IncidentDataCategory(Base):
    __tablename__ = "incident_data_categories"
    __table_args__ = (UniqueConstraint("incident_id", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(50))
    added_at: Mapped[datetime]


class RoleAssignment(Base):
    """A person in a role on an incident (incident commander, communications...)."""

    __tablename__ = "incident_roles"
    __table_args__ = (UniqueConstraint("incident_id", "role", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime]


class Task(Base):
    __tablename__ = "incident_tasks"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_role: Mapped[str] = mapped_column(String(40))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(100), default="manual")  # playbook key or manual
    created_at: Mapped[datetime]


class PublicUpdate(Base):
    """An update published on the status page (and to subscribers)."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime]
    posted_by: Mapped[str] = mapped_column(String(200))
    component_statuses: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InternalNote(Base):
    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(200))


class TimelineEntry(Base):
    """Append-only: every change to an incident, with who, what, when, before and after."""

    __tablename__ = "incident_timeline"
    __table_args__ = (Index("ix_incident_timeline_incident_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))  # e.g. state_changed, component_status
    summary: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    public: Mapped[bool] = mapped_column(default=False)

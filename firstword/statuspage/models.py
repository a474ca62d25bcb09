"""Status page tables: the rendered snapshot (artifacts) and scheduled maintenances.

Private to the statuspage domain; other code goes through statuspage/service.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from firstword.core.db import Base


class StatusArtifact(Base):
    """One rendered file of the public site ("index.en.html", "api/v2/summary.json", ...).

    Written by snapshot.rebuild only when its bytes change, so the ETag and `rendered_at`
    (Last-Modified) stay put while nothing changes; served as stored, never rendered per
    request."""

    __tablename__ = "statuspage_artifacts"

    path: Mapped[str] = mapped_column(String(200), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(100))
    etag: Mapped[str] = mapped_column(String(80))  # '"sha256-<hex>"', quoted (strong)
    rendered_at: Mapped[datetime] = mapped_column(index=True)


class Maintenance(Base):
    """A scheduled maintenance: announced ahead, then in progress, verifying, completed."""

    __tablename__ = "statuspage_maintenances"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(30), unique=True)  # MNT-2026-0001
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    components: Mapped[list[str]] = mapped_column(JSON, default=list)  # component keys
    scheduled_for: Mapped[datetime]
    scheduled_until: Mapped[datetime]
    started_at: Mapped[datetime | None]
    verifying_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))

    updates: Mapped[list[MaintenanceUpdate]] = relationship(
        cascade="all, delete-orphan", order_by="MaintenanceUpdate.id"
    )


class MaintenanceUpdate(Base):
    """A public message on a maintenance, one per status change (or a plain note)."""

    __tablename__ = "statuspage_maintenance_updates"
    __table_args__ = (Index("ix_statuspage_maintenance_updates_mid", "maintenance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    maintenance_id: Mapped[int] = mapped_column(
        ForeignKey("statuspage_maintenances.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime]
    posted_by: Mapped[str] = mapped_column(String(200))  # staff only; never published

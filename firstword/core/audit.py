"""The tamper-evident audit log: every change to an incident, a notice or a rule.

Each entry stores the SHA-256 of its own canonical content together with the hash of the
entry before it, so editing or deleting any row breaks the chain from that row on.
`verify_chain` walks the chain and names the first broken entry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from firstword.core.clock import Clock
from firstword.core.db import Base, is_postgresql
from firstword.core.ids import sha256_hex

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(50))
    object_id: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _canonical(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


def _entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, otype: str, oid: str, detail: str
) -> str:
    material = "\x1f".join([prev_hash, at.isoformat(), actor, action, otype, oid, detail])
    return sha256_hex(material)


def record(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction."""
    if is_postgresql(session):
        # Serialise appenders so two transactions cannot both chain onto the same tail.
        session.execute(text("SELECT pg_advisory_xact_lock(7243001)"))
    tail = session.scalars(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
    prev = tail or GENESIS
    at = clock.now()
    body = _canonical(detail or {})
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=body,
        prev_hash=prev,
        hash=_entry_hash(prev, at, actor, action, object_type, str(object_id), body),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    ok: bool
    first_bad_id: int | None = None
    reason: str = ""


def verify_chain(
    session: Session, *, batch: int = 5000, on_progress: Callable[[int], None] | None = None
) -> ChainReport:
    """Walk the chain in id order; `on_progress(entries checked so far)` after each batch."""
    prev = GENESIS
    count = 0
    last_id = 0
    while True:
        if on_progress is not None and count:
            on_progress(count)
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(entries=count, ok=True)
        for row in rows:
            count += 1
            if row.prev_hash != prev:
                return ChainReport(
                    count,
                    False,
                    row.id,
                    "links to a different previous entry "
                    "(an entry before it was removed or altered)",
                )
            expected = _entry_hash(
                prev, row.at, row.actor, row.action, row.object_type, row.object_id, row.detail
            )
            if expected != row.hash:
                return ChainReport(count, False, row.id, "content does not match its hash")
            prev = row.hash
            last_id = row.id


def entries_for(session: Session, object_type: str, object_id: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
            .order_by(AuditEntry.id)
        )
    )

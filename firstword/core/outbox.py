"""The outbox: the one way anything leaves the system.

Rows are written by `enqueue` in the same transaction as the decision that causes them.
Workers `claim` a batch under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), deliver each
message through its channel with the row's idempotency key, and record the outcome per
message, so a worker killed mid-batch leaves only unfinished rows, which another worker takes
over when the lease runs out. Delivery is at-least-once; the idempotency key lets a receiver
drop the one message that may have been in flight at the moment of a crash.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.clock import Clock
from firstword.core.db import Base, is_postgresql
from firstword.core.errors import Conflict, NotFound


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    topic: Mapped[str] = mapped_column(String(100), default="")  # e.g. statuspage.update
    reference: Mapped[str] = mapped_column(String(100), default="")  # e.g. INC-2026-0001
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(200))


def enqueue(
    session: Session,
    *,
    clock: Clock,
    channel: str,
    recipient: str,
    payload: dict[str, Any],
    idempotency_key: str,
    topic: str = "",
    reference: str = "",
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a message in the caller's transaction. Returns None when a message with the same
    idempotency key exists already (the decision was replayed): nothing is queued twice."""
    now = clock.now()
    row = OutboxMessage(
        channel=channel,
        recipient=recipient,
        payload=payload,
        idempotency_key=idempotency_key,
        topic=topic,
        reference=reference,
        status=OutboxStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=not_before or now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def claim(
    session: Session, *, clock: Clock, worker_id: str, batch_size: int, lease_seconds: int,
    channels: set[str] | None = None,
) -> list[OutboundMessage]:
    """Reserve up to `batch_size` due messages for `worker_id` until the lease runs out.

    Due means pending, next attempt reached, and unclaimed or with an expired lease.
    The caller commits right after, so the reservation is visible to other workers.
    """
    now = clock.now()
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            (OutboxMessage.lease_until.is_(None)) | (OutboxMessage.lease_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch_size)
    )
    if channels is not None:
        due = due.where(OutboxMessage.channel.in_(sorted(channels)))
    if is_postgresql(session):
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    lease_until = now + timedelta(seconds=lease_seconds)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(claimed_by=worker_id, lease_until=lease_until,
                attempts=OutboxMessage.attempts + 1)
    )
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    ).all()
    return [
        OutboundMessage(
            id=r.id, channel=r.channel, recipient=r.recipient, payload=dict(r.payload),
            idempotency_key=r.idempotency_key, attempt=r.attempts,
        )
        for r in rows
    ]


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None
                  ) -> float:
    """Exponential backoff with full jitter (AWS architecture blog's recommendation)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0, ceiling)


def record_outcome(
    session: Session,
    *,
    clock: Clock,
    worker_id: str,
    message_id: int,
    result: DeliveryResult,
    max_attempts: int,
    backoff_base: float,
    backoff_max: float,
) -> str:
    """Record what happened to one claimed message; returns its new status.

    Guarded by `claimed_by`: if this worker's lease ran out and another worker took the
    message over, the stale outcome is dropped rather than overwriting the newer one.
    """
    now = clock.now()
    row = session.get(OutboxMessage, message_id, with_for_update=is_postgresql(session))
    if row is None or row.claimed_by != worker_id or row.status != OutboxStatus.PENDING:
        return "stale"
    if result.outcome is Outcome.DELIVERED:
        row.status = OutboxStatus.DELIVERED
        row.delivered_at = now
        row.provider_id = result.provider_id
        row.last_error = None
    elif result.outcome is Outcome.PERMANENT or row.attempts >= max_attempts:
        row.status = OutboxStatus.DEAD
        row.last_error = result.detail[:2000]
    else:
        delay = backoff_delay(row.attempts, base=backoff_base, cap=backoff_max)
        row.next_attempt_at = now + timedelta(seconds=delay)
        row.last_error = result.detail[:2000]
    row.claimed_by = None
    row.lease_until = None
    session.flush()
    return str(row.status)


def requeue_dead(session: Session, *, clock: Clock, message_id: int) -> None:
    """Give a dead-lettered message another chance (an operator's decision)."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"outbox message {message_id} does not exist")
    if row.status != OutboxStatus.DEAD:
        raise Conflict(f"outbox message {message_id} is {row.status}, not dead")
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = clock.now()


def depth(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {str(status): int(n) for status, n in rows}

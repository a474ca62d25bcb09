"""The outbox: the one way anything leaves the system.

Life of a message
-----------------
1. `enqueue` writes a row in the same transaction as the decision that causes it (an update
   published, a notice approved). If that transaction rolls back, nothing is sent; if it
   commits, the message will be sent. A second `enqueue` with the same idempotency key is a
   no-op, so replaying a decision never queues a message twice.
2. A worker `claim`s a batch of due rows in a short transaction of its own: it stamps them
   with its worker id and a lease (`lease_until`) and counts the attempt, then commits. On
   PostgreSQL the rows are picked with `FOR UPDATE SKIP LOCKED`, so concurrent workers take
   disjoint batches without waiting for each other; SQLite serialises writers anyway.
3. For each claimed message the worker calls its channel outside any transaction, passing the
   row's idempotency key (SMTP Message-ID and `X-Firstword-Idempotency-Key`, HTTP
   `Idempotency-Key`), then `record_outcome` in another short transaction. Delivered rows are
   final. Transient failures are retried after exponential backoff with full jitter (never
   sooner than a receiver's Retry-After); permanent failures, and messages that used up their
   attempts, are dead-lettered for an operator (`requeue_dead`).
4. `record_outcome` is guarded by `claimed_by`: when a worker's lease ran out and another
   worker took the message over, the first worker's late outcome is dropped.

Delivery guarantee
------------------
At least once, and exactly once except across a crash: every committed message is delivered
(or dead-lettered with a reason) as long as some worker runs. A worker killed between a
channel accepting a message and the outcome being committed has sent that one message without
recording it; once its lease expires another worker sends it again with the same idempotency
key, and the receiver can drop it. Only the message in flight can repeat (a worker sends one
message at a time); the rest of a dead worker's batch was never sent and is simply taken over.
A repeat can also happen when a single send outlasts the lease (workers renew leases between
messages, so keep `lease_seconds` well above a channel's timeout, 30 s for SMTP and webhooks),
or when worker clocks disagree by more than the lease.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from firstword.core import audit
from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.clock import Clock
from firstword.core.db import Base, is_postgresql
from firstword.core.errors import Conflict, InvalidInput, NotFound

MAX_ERROR_CHARS = 2000


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


def _check_length(field: str, value: str, limit: int) -> None:
    if not value or not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(field, f"must be at most {limit} characters")


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
    _check_length("channel", channel, 50)
    _check_length("recipient", recipient, 500)
    _check_length("idempotency_key", idempotency_key, 200)
    if len(topic) > 100:
        raise InvalidInput("topic", "must be at most 100 characters")
    if len(reference) > 100:
        raise InvalidInput("reference", "must be at most 100 characters")
    if not isinstance(payload, dict):
        raise InvalidInput("payload", "must be a JSON object")
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
        # A savepoint, so that losing the race on the unique key leaves the caller's
        # transaction usable (on PostgreSQL a concurrent insert waits for the other to commit).
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def _message(row: OutboxMessage) -> OutboundMessage:
    return OutboundMessage(
        id=row.id,
        channel=row.channel,
        recipient=row.recipient,
        payload=dict(row.payload),
        idempotency_key=row.idempotency_key,
        attempt=row.attempts,
    )


def claim(
    session: Session,
    *,
    clock: Clock,
    worker_id: str,
    batch_size: int,
    lease_seconds: int,
    channels: set[str] | None = None,
) -> list[OutboundMessage]:
    """Reserve up to `batch_size` due messages for `worker_id` until the lease runs out.

    Due means pending, next attempt reached, and unclaimed or with an expired lease.
    Each claim counts as an attempt (so a message that keeps killing its worker still
    reaches `max_attempts`). The caller commits right after, so the reservation is visible
    to other workers.
    """
    if batch_size < 1 or lease_seconds < 1:
        raise InvalidInput("batch_size" if batch_size < 1 else "lease_seconds", "must be >= 1")
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
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            claimed_by=worker_id,
            lease_until=now + timedelta(seconds=lease_seconds),
            attempts=OutboxMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    return [_message(r) for r in rows]


def renew_lease(
    session: Session, *, clock: Clock, worker_id: str, message_ids: list[int], lease_seconds: int
) -> set[int]:
    """Extend this worker's lease on the given messages; returns the ids it still holds.
    A message missing from the result was taken over (or settled) meanwhile: don't send it."""
    if not message_ids:
        return set()
    held = (
        OutboxMessage.id.in_(message_ids),
        OutboxMessage.claimed_by == worker_id,
        OutboxMessage.status == OutboxStatus.PENDING,
    )
    session.execute(
        update(OutboxMessage)
        .where(*held)
        .values(lease_until=clock.now() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(select(OutboxMessage.id).where(*held)))


def release(session: Session, *, worker_id: str, message_ids: list[int]) -> int:
    """Hand back claimed messages this worker will not send (it is stopping), so that other
    workers can take them at once instead of after the lease; their claim is not counted as
    an attempt. Returns how many were released."""
    if not message_ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(message_ids),
            OutboxMessage.claimed_by == worker_id,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(claimed_by=None, lease_until=None, attempts=OutboxMessage.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter (the AWS architecture blog's recommendation):
    uniform between 0 and min(cap, base * 2 ** (attempt - 1)) seconds."""
    ceiling = min(cap, base * (2 ** min(max(0, attempt - 1), 62)))
    return (rng or random).uniform(0, ceiling)


def retry_delay(
    attempt: int,
    result: DeliveryResult,
    *,
    base: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next attempt: the jittered backoff, but never sooner than the
    receiver's Retry-After (itself capped at `cap`, so a receiver cannot park a message
    beyond the longest backoff)."""
    delay = backoff_delay(attempt, base=base, cap=cap, rng=rng)
    retry_after = result.extra.get("retry_after_seconds")
    if isinstance(retry_after, int | float) and retry_after > 0:
        delay = max(delay, min(float(retry_after), cap))
    return delay


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
    rng: random.Random | None = None,
) -> str:
    """Record what happened to one claimed message; returns its new status
    (`delivered`, `pending` for a scheduled retry, `dead`) or `stale`.

    Guarded by `claimed_by`: if this worker's lease ran out and another worker took the
    message over, the stale outcome is dropped rather than overwriting the newer one.
    """
    now = clock.now()
    row = session.get(
        OutboxMessage, message_id, with_for_update=is_postgresql(session), populate_existing=True
    )
    if row is None or row.claimed_by != worker_id or row.status != OutboxStatus.PENDING:
        return "stale"
    detail = (result.detail or result.outcome.value)[:MAX_ERROR_CHARS]
    if result.outcome is Outcome.DELIVERED:
        row.status = OutboxStatus.DELIVERED
        row.delivered_at = now
        row.provider_id = result.provider_id[:200] if result.provider_id else None
        row.last_error = None
    elif result.outcome is Outcome.PERMANENT:
        row.status = OutboxStatus.DEAD
        row.last_error = detail
    elif row.attempts >= max_attempts:
        row.status = OutboxStatus.DEAD
        row.last_error = f"gave up after {row.attempts} attempts: {detail}"[:MAX_ERROR_CHARS]
    else:
        delay = retry_delay(row.attempts, result, base=backoff_base, cap=backoff_max, rng=rng)
        row.next_attempt_at = now + timedelta(seconds=delay)
        row.last_error = f"attempt {row.attempts}: {detail}"[:MAX_ERROR_CHARS]
    row.claimed_by = None
    row.lease_until = None
    session.flush()
    return str(row.status)


def requeue_dead(
    session: Session, *, clock: Clock, message_id: int, actor: str = "system"
) -> OutboxMessage:
    """Give a dead-lettered message another full set of attempts (an operator's decision,
    recorded in the audit log). It keeps its idempotency key."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"outbox message {message_id} does not exist")
    if row.status != OutboxStatus.DEAD:
        raise Conflict(f"outbox message {message_id} is {row.status}, not dead")
    previous_error = row.last_error
    row.status = OutboxStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = clock.now()
    row.claimed_by = None
    row.lease_until = None
    session.flush()
    audit.record(
        session,
        clock=clock,
        actor=actor,
        action="outbox.requeued",
        object_type="outbox",
        object_id=str(row.id),
        detail={
            "channel": row.channel,
            "topic": row.topic,
            "reference": row.reference,
            "last_error": previous_error,
        },
    )
    return row


def depth(session: Session) -> dict[str, int]:
    """Number of messages per status."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


def outstanding(
    session: Session, *, clock: Clock, worker_id: str, channels: set[str] | None = None
) -> int:
    """Pending messages a draining (`--once`) worker must not leave behind: those it could
    claim now, and those another worker holds under a live lease (possibly a dead worker
    whose lease has not run out yet). Retries scheduled for later are not counted.

    Both kinds are counted in one query, so a lease that expires between a worker's empty
    claim and this check still counts (as claimable) rather than slipping through.
    """
    now = clock.now()
    free = OutboxMessage.lease_until.is_(None) | (OutboxMessage.lease_until < now)
    claimable = and_(OutboxMessage.next_attempt_at <= now, free)
    elsewhere = and_(OutboxMessage.lease_until >= now, OutboxMessage.claimed_by != worker_id)
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, or_(claimable, elsewhere))
    )
    if channels is not None:
        query = query.where(OutboxMessage.channel.in_(sorted(channels)))
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class OutboxSummary:
    by_status: dict[str, int]
    due_now: int  # pending, due and not leased
    in_flight: int  # pending under a live lease
    scheduled: int  # pending, waiting for a later attempt (retries, not_before)
    oldest_pending_at: datetime | None

    def oldest_pending_age(self, now: datetime) -> timedelta | None:
        return None if self.oldest_pending_at is None else now - self.oldest_pending_at


def summary(session: Session, *, clock: Clock) -> OutboxSummary:
    now = clock.now()
    pending = OutboxMessage.status == OutboxStatus.PENDING
    live_lease = OutboxMessage.lease_until >= now
    free = OutboxMessage.lease_until.is_(None) | (OutboxMessage.lease_until < now)

    def count(*conditions: Any) -> int:
        query = select(func.count()).select_from(OutboxMessage).where(pending, *conditions)
        return int(session.scalar(query) or 0)

    oldest = session.scalar(select(func.min(OutboxMessage.created_at)).where(pending))
    by_status = {s.value: 0 for s in OutboxStatus} | depth(session)
    return OutboxSummary(
        by_status=by_status,
        due_now=count(OutboxMessage.next_attempt_at <= now, free),
        in_flight=count(live_lease),
        scheduled=count(OutboxMessage.next_attempt_at > now, free),
        oldest_pending_at=oldest,
    )


def dead_letters(session: Session, *, limit: int = 100) -> list[OutboxMessage]:
    """Dead-lettered messages, most recent first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.DEAD)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )

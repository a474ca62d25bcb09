"""The outbox on both backends: enqueue, claim under leases, outcomes, retries, dead letters."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from firstword.context import Context
from firstword.core import audit, outbox
from firstword.core.channels.base import DeliveryResult, Outcome
from firstword.core.clock import Clock, FrozenClock
from firstword.core.db import transaction
from firstword.core.errors import Conflict, InvalidInput, NotFound
from firstword.core.outbox import OutboxMessage, OutboxStatus

LEASE = 60
DELIVERED = DeliveryResult(Outcome.DELIVERED, "ok", provider_id="<id@example.com>")
TRANSIENT = DeliveryResult(Outcome.TRANSIENT, "HTTP 503 Service Unavailable")
PERMANENT = DeliveryResult(Outcome.PERMANENT, "HTTP 400 Bad Request")


def _enqueue(session: Session, clock: Clock, key: str, **extra: Any) -> OutboxMessage:
    row = outbox.enqueue(
        session,
        clock=clock,
        channel="webhook",
        recipient="https://example.com/hook",
        payload={"body": {"n": key}},
        idempotency_key=key,
        topic="test",
        **extra,
    )
    assert row is not None
    return row


def _claim(session: Session, clock: Clock, worker: str, size: int = 10) -> list[int]:
    return [
        m.id
        for m in outbox.claim(
            session, clock=clock, worker_id=worker, batch_size=size, lease_seconds=LEASE
        )
    ]


def _record(
    session: Session,
    clock: FrozenClock,
    worker: str,
    message_id: int,
    result: DeliveryResult,
    *,
    max_attempts: int = 3,
    rng: random.Random | None = None,
) -> str:
    return outbox.record_outcome(
        session,
        clock=clock,
        worker_id=worker,
        message_id=message_id,
        result=result,
        max_attempts=max_attempts,
        backoff_base=10.0,
        backoff_max=3600.0,
        rng=rng or random.Random(7),
    )


def _row(session: Session, message_id: int) -> OutboxMessage:
    row = session.get(OutboxMessage, message_id, populate_existing=True)
    assert row is not None
    return row


def test_enqueue_is_idempotent_on_the_key(session: Session, clock: FrozenClock) -> None:
    first = _enqueue(session, clock, "notice:1:alice")
    again = outbox.enqueue(
        session,
        clock=clock,
        channel="webhook",
        recipient="https://x.test/",
        payload={"other": True},
        idempotency_key="notice:1:alice",
    )
    assert again is None
    # The caller's transaction is still usable after the duplicate (savepoint).
    _enqueue(session, clock, "notice:1:bob")
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.idempotency_key for r in rows] == ["notice:1:alice", "notice:1:bob"]
    assert rows[0].id == first.id and rows[0].payload == {"body": {"n": "notice:1:alice"}}


def test_enqueue_rolls_back_with_the_deciding_transaction(committing_context: Context) -> None:
    ctx = committing_context
    with pytest.raises(RuntimeError), transaction(ctx.sessionmaker) as session:
        _enqueue(session, ctx.clock, "decided-then-failed")
        raise RuntimeError("the decision failed after queueing")
    with transaction(ctx.sessionmaker) as session:
        _enqueue(session, ctx.clock, "decided")
    with transaction(ctx.sessionmaker) as session:
        keys = session.scalars(select(OutboxMessage.idempotency_key)).all()
    assert keys == ["decided"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("idempotency_key", ""),
        ("idempotency_key", "k" * 201),
        ("channel", " "),
        ("recipient", "r" * 501),
    ],
)
def test_enqueue_rejects_bad_input_naming_the_field(
    session: Session, clock: FrozenClock, field: str, value: str
) -> None:
    values = {"channel": "smtp", "recipient": "a@example.com", "idempotency_key": "k"}
    values[field] = value
    with pytest.raises(InvalidInput) as err:
        outbox.enqueue(session, clock=clock, payload={}, **values)
    assert err.value.field == field
    assert session.scalars(select(OutboxMessage)).all() == []


def test_claim_takes_only_due_messages_in_order(session: Session, clock: FrozenClock) -> None:
    later = _enqueue(session, clock, "later", not_before=clock.now() + timedelta(seconds=30))
    first = _enqueue(session, clock, "first")
    second = _enqueue(session, clock, "second")
    assert _claim(session, clock, "w1") == [first.id, second.id]
    claimed = _row(session, first.id)
    assert claimed.claimed_by == "w1" and claimed.attempts == 1
    assert claimed.lease_until == clock.now() + timedelta(seconds=LEASE)
    assert _claim(session, clock, "w2") == []  # the rest is leased, `later` not due
    clock.advance(timedelta(seconds=30))  # `later` is due, the others still leased
    assert _claim(session, clock, "w2") == [later.id]


def test_claim_respects_batch_size_and_channel_filter(session: Session, clock: FrozenClock) -> None:
    ids = [_enqueue(session, clock, f"m{i}").id for i in range(5)]
    mail = outbox.enqueue(
        session,
        clock=clock,
        channel="smtp",
        recipient="a@example.com",
        payload={"subject": "s", "text": "t"},
        idempotency_key="mail",
    )
    assert mail is not None
    only_smtp = outbox.claim(
        session, clock=clock, worker_id="w", batch_size=10, lease_seconds=LEASE, channels={"smtp"}
    )
    assert [m.id for m in only_smtp] == [mail.id]
    assert only_smtp[0].payload == {"subject": "s", "text": "t"}
    assert _claim(session, clock, "w", size=2) == ids[:2]
    assert _claim(session, clock, "w", size=10) == ids[2:]


def test_expired_lease_is_reclaimed_by_another_worker(session: Session, clock: FrozenClock) -> None:
    message = _enqueue(session, clock, "crashy")
    assert _claim(session, clock, "dead-worker") == [message.id]
    clock.advance(timedelta(seconds=LEASE - 1))
    assert _claim(session, clock, "rescuer") == []
    clock.advance(timedelta(seconds=2))
    taken = outbox.claim(
        session, clock=clock, worker_id="rescuer", batch_size=10, lease_seconds=LEASE
    )
    assert [m.id for m in taken] == [message.id]
    assert taken[0].attempt == 2  # the crashed attempt counts
    assert _row(session, message.id).claimed_by == "rescuer"


def test_stale_outcome_from_a_worker_whose_lease_was_taken_over_is_dropped(
    session: Session, clock: FrozenClock
) -> None:
    message = _enqueue(session, clock, "slow")
    _claim(session, clock, "slow-worker")
    clock.advance(timedelta(seconds=LEASE + 1))
    _claim(session, clock, "fast-worker")
    # The slow worker finally gets a 503 back; it must not overwrite the new owner's claim.
    assert _record(session, clock, "slow-worker", message.id, TRANSIENT) == "stale"
    row = _row(session, message.id)
    assert row.claimed_by == "fast-worker" and row.last_error is None
    assert _record(session, clock, "fast-worker", message.id, DELIVERED) == "delivered"
    row = _row(session, message.id)
    assert row.status == OutboxStatus.DELIVERED and row.delivered_at == clock.now()
    assert row.provider_id == "<id@example.com>" and row.claimed_by is None
    # and a late outcome after delivery changes nothing either
    assert _record(session, clock, "slow-worker", message.id, PERMANENT) == "stale"
    assert _row(session, message.id).status == OutboxStatus.DELIVERED


def test_transient_failures_back_off_then_dead_letter(session: Session, clock: FrozenClock) -> None:
    message = _enqueue(session, clock, "flaky")
    for attempt in (1, 2):
        assert _claim(session, clock, "w") == [message.id]
        assert _record(session, clock, "w", message.id, TRANSIENT) == "pending"
        row = _row(session, message.id)
        delay = row.next_attempt_at - clock.now()
        # full jitter: anywhere in [0, base * 2**(attempt-1)]
        assert timedelta(0) <= delay <= timedelta(seconds=10.0 * 2 ** (attempt - 1))
        assert row.claimed_by is None and row.lease_until is None
        assert row.last_error == f"attempt {attempt}: HTTP 503 Service Unavailable"
        if delay > timedelta(0):
            assert _claim(session, clock, "w") == []  # not due before the backoff
        clock.set(row.next_attempt_at)
    assert _claim(session, clock, "w") == [message.id]
    assert _record(session, clock, "w", message.id, TRANSIENT) == "dead"
    row = _row(session, message.id)
    assert row.status == OutboxStatus.DEAD and row.attempts == 3
    assert row.last_error == "gave up after 3 attempts: HTTP 503 Service Unavailable"
    clock.advance(timedelta(days=1))
    assert _claim(session, clock, "w") == []


def test_permanent_failure_dead_letters_at_once(session: Session, clock: FrozenClock) -> None:
    message = _enqueue(session, clock, "bad-request")
    _claim(session, clock, "w")
    assert _record(session, clock, "w", message.id, PERMANENT, max_attempts=8) == "dead"
    row = _row(session, message.id)
    assert row.status == OutboxStatus.DEAD and row.attempts == 1
    assert row.last_error == "HTTP 400 Bad Request"


def test_retry_after_is_the_minimum_delay(session: Session, clock: FrozenClock) -> None:
    message = _enqueue(session, clock, "rate-limited")
    _claim(session, clock, "w")
    limited = DeliveryResult(Outcome.TRANSIENT, "HTTP 429", extra={"retry_after_seconds": 120})
    assert _record(session, clock, "w", message.id, limited) == "pending"
    # first backoff is at most 10 s; the receiver asked for 120
    assert _row(session, message.id).next_attempt_at == clock.now() + timedelta(seconds=120)


def test_retry_after_is_capped_by_the_longest_backoff() -> None:
    huge = DeliveryResult(Outcome.TRANSIENT, "", extra={"retry_after_seconds": 86400 * 30})
    assert outbox.retry_delay(1, huge, base=5, cap=3600, rng=random.Random(1)) == 3600


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    rng = random.Random(42)
    for attempt in range(1, 12):
        ceiling = min(300.0, 5.0 * 2 ** (attempt - 1))
        samples = [outbox.backoff_delay(attempt, base=5, cap=300, rng=rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # it really spreads over the whole range
        assert min(samples) < ceiling * 0.2
    assert outbox.backoff_delay(10_000, base=5, cap=300, rng=rng) <= 300


def test_requeue_dead_message(session: Session, clock: FrozenClock) -> None:
    message = _enqueue(session, clock, "requeue-me")
    _claim(session, clock, "w")
    _record(session, clock, "w", message.id, PERMANENT)
    with pytest.raises(Conflict):
        outbox.requeue_dead(session, clock=clock, message_id=_enqueue(session, clock, "ok").id)
    with pytest.raises(NotFound):
        outbox.requeue_dead(session, clock=clock, message_id=999_999)
    clock.advance(timedelta(hours=1))
    outbox.requeue_dead(session, clock=clock, message_id=message.id, actor="cli:ops")
    row = _row(session, message.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, clock.now())
    assert row.idempotency_key == "requeue-me"
    entries = audit.entries_for(session, "outbox", str(message.id))
    assert [(e.action, e.actor) for e in entries] == [("outbox.requeued", "cli:ops")]
    assert message.id in _claim(session, clock, "w")


def test_renew_lease_keeps_only_what_the_worker_still_holds(
    session: Session, clock: FrozenClock
) -> None:
    a, b = _enqueue(session, clock, "a"), _enqueue(session, clock, "b")
    _claim(session, clock, "w1")
    clock.advance(timedelta(seconds=LEASE + 1))
    assert _claim(session, clock, "w2", size=1) == [a.id]  # w2 takes `a` over
    held = outbox.renew_lease(
        session, clock=clock, worker_id="w1", message_ids=[a.id, b.id], lease_seconds=LEASE
    )
    assert held == {b.id}
    assert _row(session, b.id).lease_until == clock.now() + timedelta(seconds=LEASE)
    assert _row(session, a.id).claimed_by == "w2"


def test_release_hands_back_unsent_messages_without_counting_an_attempt(
    session: Session, clock: FrozenClock
) -> None:
    a, b = _enqueue(session, clock, "a"), _enqueue(session, clock, "b")
    _claim(session, clock, "w1")
    assert outbox.release(session, worker_id="w2", message_ids=[a.id]) == 0  # not w2's
    assert outbox.release(session, worker_id="w1", message_ids=[a.id, b.id]) == 2
    row = _row(session, a.id)
    assert (row.claimed_by, row.lease_until, row.attempts) == (None, None, 0)
    assert _claim(session, clock, "w2") == [a.id, b.id]


def test_summary_counts_and_oldest_pending(session: Session, clock: FrozenClock) -> None:
    oldest = _enqueue(session, clock, "oldest")
    clock.advance(timedelta(minutes=10))
    for key in ("leased", "failing", "dead", "due"):
        _enqueue(session, clock, key)
    ids = _claim(session, clock, "w", size=4)  # oldest, leased, failing, dead
    _record(session, clock, "w", ids[0], DELIVERED)
    _record(
        session,
        clock,
        "w",
        ids[2],
        DeliveryResult(Outcome.TRANSIENT, "later", extra={"retry_after_seconds": 600}),
    )
    _record(session, clock, "w", ids[3], PERMANENT)
    report = outbox.summary(session, clock=clock)
    assert report.by_status == {"pending": 3, "delivered": 1, "dead": 1}
    assert (report.due_now, report.in_flight, report.scheduled) == (1, 1, 1)
    assert report.oldest_pending_at == oldest.created_at + timedelta(minutes=10)
    # a draining worker waits for the due message and for w's live lease, not for the retry
    assert outbox.outstanding(session, clock=clock, worker_id="other") == 2
    assert outbox.outstanding(session, clock=clock, worker_id="w") == 1
    assert outbox.outstanding(session, clock=clock, worker_id="other", channels={"smtp"}) == 0
    clock.advance(timedelta(seconds=LEASE + 1))  # w's lease expired: its message is claimable
    assert outbox.outstanding(session, clock=clock, worker_id="w") == 2
    assert [r.idempotency_key for r in outbox.dead_letters(session)] == ["dead"]


@pytest.mark.postgresql
def test_concurrent_claims_skip_locked_rows(committing_context: Context, backend: str) -> None:
    """While one transaction holds claimed rows locked (not yet committed), another worker's
    claim takes different rows at once instead of waiting for the lock."""
    if backend != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    ctx = committing_context
    with transaction(ctx.sessionmaker) as session:
        for i in range(10):
            _enqueue(session, ctx.clock, f"k{i}")
    factory = sessionmaker(bind=ctx.engine, expire_on_commit=False)
    first, second = factory(), factory()
    try:
        first.begin()
        held = _claim(first, ctx.clock, "w1", size=4)
        second.begin()
        second.execute(text("SET LOCAL lock_timeout = '3s'"))  # fail, don't hang, if it waits
        other = _claim(second, ctx.clock, "w2", size=4)
        assert len(held) == 4 and len(other) == 4
        assert not set(held) & set(other)
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    with transaction(ctx.sessionmaker) as session:
        owners = dict(session.execute(select(OutboxMessage.id, OutboxMessage.claimed_by)).all())
    assert sorted(k for k, v in owners.items() if v == "w1") == sorted(held)
    assert sorted(k for k, v in owners.items() if v == "w2") == sorted(other)

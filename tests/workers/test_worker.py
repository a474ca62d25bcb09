"""The worker loop in-process, on committed data on both backends."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from firstword.context import Context
from firstword.core import outbox
from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.clock import FrozenClock
from firstword.core.db import transaction
from firstword.core.outbox import OutboxMessage
from firstword.workers.run import run_worker


class FakeChannel:
    """Records what it was asked to send (and by which thread); `hook` runs on each send."""

    name = "fake"

    def __init__(
        self, hook: Callable[[OutboundMessage], DeliveryResult | None] | None = None
    ) -> None:
        self.sent: list[tuple[str, str]] = []  # (thread name, idempotency key)
        self.hook = hook
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> DeliveryResult:
        with self._lock:
            self.sent.append((threading.current_thread().name, message.idempotency_key))
        result = self.hook(message) if self.hook else None
        return result or DeliveryResult(Outcome.DELIVERED, "ok", provider_id=f"p-{message.id}")

    def keys(self) -> Counter[str]:
        return Counter(key for _, key in self.sent)


def _enqueue(ctx: Context, count: int, channel: str = "fake", prefix: str = "m") -> list[int]:
    with transaction(ctx.sessionmaker) as session:
        rows = [
            outbox.enqueue(
                session,
                clock=ctx.clock,
                channel=channel,
                recipient="r",
                payload={"n": i},
                idempotency_key=f"{prefix}{i:03d}",
            )
            for i in range(count)
        ]
        session.flush()
        return [r.id for r in rows if r is not None]


def _rows(ctx: Context) -> list[OutboxMessage]:
    with transaction(ctx.sessionmaker) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _with(ctx: Context, **channels: object) -> Context:
    ctx.channels = dict(channels)  # type: ignore[arg-type]
    return ctx


def test_worker_delivers_every_message_once(committing_context: Context) -> None:
    fake = FakeChannel()
    ctx = _with(committing_context, fake=fake)
    _enqueue(ctx, 12)
    stats = run_worker(ctx, worker_id="w", batch_size=5, lease_seconds=60, once=True)
    assert (stats.claimed, stats.delivered, stats.dead, stats.retrying) == (12, 12, 0, 0)
    assert sorted(fake.keys().items()) == [(f"m{i:03d}", 1) for i in range(12)]
    rows = _rows(ctx)
    assert {r.status for r in rows} == {"delivered"}
    assert all(r.provider_id == f"p-{r.id}" and r.claimed_by is None for r in rows)


def test_unknown_channel_is_dead_lettered_with_a_reason(committing_context: Context) -> None:
    ctx = _with(committing_context, fake=FakeChannel())
    _enqueue(ctx, 1, channel="carrier-pigeon")
    stats = run_worker(ctx, worker_id="w", batch_size=5, lease_seconds=60, once=True)
    assert stats.dead == 1
    [row] = _rows(ctx)
    assert row.status == "dead"
    assert row.last_error == "no channel named 'carrier-pigeon' is installed (installed: fake)"


def test_a_channel_that_raises_is_retried_later(committing_context: Context) -> None:
    clock = committing_context.clock
    assert isinstance(clock, FrozenClock)
    calls: list[int] = []

    def explode_once(message: OutboundMessage) -> DeliveryResult | None:
        calls.append(message.attempt)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return None

    ctx = _with(committing_context, fake=FakeChannel(explode_once))
    _enqueue(ctx, 1)
    first = run_worker(ctx, worker_id="w", batch_size=5, lease_seconds=60, once=True)
    assert (first.retrying, first.delivered) == (1, 0)
    [row] = _rows(ctx)
    assert (
        row.status == "pending" and row.last_error == "attempt 1: channel raised RuntimeError: boom"
    )
    clock.set(row.next_attempt_at)
    second = run_worker(ctx, worker_id="w", batch_size=5, lease_seconds=60, once=True)
    assert second.delivered == 1 and calls == [1, 2]
    assert _rows(ctx)[0].status == "delivered"


def test_max_messages_claims_no_more_than_it_will_handle(committing_context: Context) -> None:
    fake = FakeChannel()
    ctx = _with(committing_context, fake=fake)
    _enqueue(ctx, 10)
    stats = run_worker(ctx, worker_id="w", batch_size=5, lease_seconds=60, max_messages=3)
    assert (stats.claimed, stats.delivered) == (3, 3)
    rows = _rows(ctx)
    assert [r.status for r in rows].count("pending") == 7
    assert all(r.claimed_by is None for r in rows)


def test_stop_finishes_the_message_in_flight_and_hands_back_the_rest(
    committing_context: Context,
) -> None:
    stop = threading.Event()

    def stop_now(message: OutboundMessage) -> None:
        stop.set()  # as SIGTERM would, while this message is being sent

    fake = FakeChannel(stop_now)
    ctx = _with(committing_context, fake=fake)
    _enqueue(ctx, 5)
    stats = run_worker(ctx, worker_id="w", batch_size=5, lease_seconds=60, stop_event=stop)
    assert (stats.delivered, stats.released) == (1, 4)
    assert len(fake.sent) == 1
    rows = _rows(ctx)
    assert rows[0].status == "delivered"
    for row in rows[1:]:
        assert (row.status, row.claimed_by, row.lease_until, row.attempts) == (
            "pending",
            None,
            None,
            0,
        )


def test_once_waits_for_a_crashed_workers_lease_then_takes_over(
    committing_context: Context,
) -> None:
    clock = committing_context.clock
    assert isinstance(clock, FrozenClock)
    fake = FakeChannel()
    ctx = _with(committing_context, fake=fake)
    _enqueue(ctx, 3)
    with transaction(ctx.sessionmaker) as session:  # a worker that claims, then dies
        outbox.claim(session, clock=clock, worker_id="ghost", batch_size=3, lease_seconds=30)
    result: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: result.update(
            stats=run_worker(
                ctx, worker_id="w", batch_size=5, lease_seconds=60, once=True, poll_interval=0.02
            )
        )
    )
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), "--once must wait for leased messages, not exit"
    assert fake.sent == []
    clock.advance(timedelta(seconds=31))
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert sorted(fake.keys()) == ["m000", "m001", "m002"]
    assert {(r.status, r.attempts) for r in _rows(ctx)} == {("delivered", 2)}


def test_a_worker_that_lost_its_lease_sends_nothing_more(committing_context: Context) -> None:
    """The lease runs out during a slow send and another worker takes the batch over: the
    slow worker's outcome is dropped and it sends none of the rest."""
    clock = committing_context.clock
    assert isinstance(clock, FrozenClock)
    ctx = committing_context

    def slow_first_send(message: OutboundMessage) -> None:
        if message.idempotency_key == "m000":
            clock.advance(timedelta(seconds=2))
            with transaction(ctx.sessionmaker) as session:
                taken = outbox.claim(
                    session, clock=clock, worker_id="thief", batch_size=10, lease_seconds=60
                )
            assert len(taken) == 5
            time.sleep(0.6)  # past half the 1 s lease: the worker checks before the next

    fake = FakeChannel(slow_first_send)
    _with(ctx, fake=fake)
    _enqueue(ctx, 5)
    stats = run_worker(ctx, worker_id="w", batch_size=5, lease_seconds=1, max_messages=5)
    assert (stats.stale, stats.lost, stats.delivered) == (1, 4, 0)
    assert [key for _, key in fake.sent] == ["m000"]
    assert {(r.status, r.claimed_by) for r in _rows(ctx)} == {("pending", "thief")}


def test_two_concurrent_workers_split_the_queue_without_duplicates(
    committing_context: Context,
) -> None:
    """On PostgreSQL the claims run concurrently (SKIP LOCKED); SQLite serialises them."""
    barrier = threading.Barrier(2, timeout=20)
    started: set[str] = set()
    lock = threading.Lock()

    def both_hold_a_batch(message: OutboundMessage) -> None:
        name = threading.current_thread().name
        with lock:
            first = name not in started
            started.add(name)
        if first:  # each worker waits at its first send until the other has claimed too
            barrier.wait()
        time.sleep(0.002)

    fake = FakeChannel(both_hold_a_batch)
    ctx = _with(committing_context, fake=fake)
    _enqueue(ctx, 40)
    stats: dict[str, object] = {}

    def work(worker_id: str) -> None:
        stats[worker_id] = run_worker(
            ctx, worker_id=worker_id, batch_size=5, lease_seconds=60, once=True, poll_interval=0.01
        )

    threads = [threading.Thread(target=work, args=(w,), name=w) for w in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert len(stats) == 2
    counts = fake.keys()
    assert len(counts) == 40 and set(counts.values()) == {1}, "a message was sent twice"
    per_worker = Counter(name for name, _ in fake.sent)
    assert per_worker["w1"] > 0 and per_worker["w2"] > 0, per_worker
    assert {(r.status, r.attempts) for r in _rows(ctx)} == {("delivered", 1)}

"""The outbox worker loop (`firstword worker`).

Each round claims a batch in one short transaction (committed at once, so other workers see
the lease), then handles the batch one message at a time: look up the channel, call its
`send` outside any transaction, and record the outcome in a short transaction of its own.
Nothing is held open while a channel talks to the network, and a crash loses at most the
outcome of the one message in flight (see `firstword.core.outbox` for the guarantee).

Between messages the worker renews its lease on the rest of the batch once half of it has
passed, dropping any message another worker took over meanwhile, and it checks `stop_event`:
a stop request (SIGTERM/SIGINT in the CLI) finishes the message in flight, hands the unsent
rest of the batch back, and returns.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from firstword.context import Context
from firstword.core import outbox
from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.db import transaction

log = logging.getLogger("firstword.worker")

MAX_DB_RETRY_SECONDS = 30.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerStats:
    """What one `run_worker` call did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0  # transient failure, scheduled for another attempt
    dead: int = 0
    stale: int = 0  # outcome dropped: another worker had taken the message over
    lost: int = 0  # taken over by another worker before this one sent it
    released: int = 0  # handed back unsent on stop
    unrecorded: int = 0  # sent, but the outcome could not be written (database error)

    @property
    def processed(self) -> int:
        """Claimed messages dealt with: sent (whatever the outcome) or found taken over."""
        return self.delivered + self.retrying + self.dead + self.stale + self.unrecorded + self.lost

    def line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in vars(self).items())


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


class _Worker:
    def __init__(
        self,
        context: Context,
        *,
        worker_id: str,
        batch_size: int,
        lease_seconds: int,
        stop: threading.Event,
        channels: set[str] | None,
        rng: random.Random | None,
    ) -> None:
        self.context = context
        self.worker_id = worker_id
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.stop = stop
        self.channels = channels
        self.rng = rng
        self.stats = WorkerStats()

    def claim(self, limit: int) -> list[OutboundMessage]:
        with transaction(self.context.sessionmaker) as session:
            batch = outbox.claim(
                session,
                clock=self.context.clock,
                worker_id=self.worker_id,
                batch_size=limit,
                lease_seconds=self.lease_seconds,
                channels=self.channels,
            )
        self.stats.claimed += len(batch)
        return batch

    def outstanding(self) -> int:
        with transaction(self.context.sessionmaker) as session:
            return outbox.outstanding(
                session,
                clock=self.context.clock,
                worker_id=self.worker_id,
                channels=self.channels,
            )

    def process_batch(self, batch: list[OutboundMessage]) -> None:
        remaining = list(batch)
        renew_at = time.monotonic() + self.lease_seconds / 2
        while remaining:
            if self.stop.is_set():
                self.release(remaining)
                return
            if time.monotonic() >= renew_at:
                remaining = self.renew(remaining)
                renew_at = time.monotonic() + self.lease_seconds / 2
                if not remaining:
                    return
            self.deliver(remaining.pop(0))

    def renew(self, remaining: list[OutboundMessage]) -> list[OutboundMessage]:
        ids = [m.id for m in remaining]
        with transaction(self.context.sessionmaker) as session:
            held = outbox.renew_lease(
                session,
                clock=self.context.clock,
                worker_id=self.worker_id,
                message_ids=ids,
                lease_seconds=self.lease_seconds,
            )
        kept = [m for m in remaining if m.id in held]
        lost = len(remaining) - len(kept)
        if lost:
            self.stats.lost += lost
            log.warning(
                "worker=%s lease lost on %d message(s); another worker has them",
                self.worker_id,
                lost,
            )
        return kept

    def release(self, remaining: list[OutboundMessage]) -> None:
        with transaction(self.context.sessionmaker) as session:
            released = outbox.release(
                session, worker_id=self.worker_id, message_ids=[m.id for m in remaining]
            )
        self.stats.released += released
        log.info("worker=%s stopping: handed back %d unsent message(s)", self.worker_id, released)

    def send(self, message: OutboundMessage) -> DeliveryResult:
        channel = self.context.channels.get(message.channel)
        if channel is None:
            installed = ", ".join(sorted(self.context.channels)) or "none"
            return DeliveryResult(
                Outcome.PERMANENT,
                f"no channel named {message.channel!r} is installed (installed: {installed})",
            )
        try:
            return channel.send(message)
        except Exception as exc:  # a channel bug must not stop the worker; retry it later
            log.exception(
                "worker=%s channel %s raised on message %d",
                self.worker_id,
                message.channel,
                message.id,
            )
            return DeliveryResult(
                Outcome.TRANSIENT, f"channel raised {type(exc).__name__}: {exc}"[:2000]
            )

    def deliver(self, message: OutboundMessage) -> None:
        started = time.monotonic()
        result = self.send(message)
        settings = self.context.settings
        try:
            with transaction(self.context.sessionmaker) as session:
                status = outbox.record_outcome(
                    session,
                    clock=self.context.clock,
                    worker_id=self.worker_id,
                    message_id=message.id,
                    result=result,
                    max_attempts=settings.outbox_max_attempts,
                    backoff_base=settings.outbox_backoff_base_seconds,
                    backoff_max=settings.outbox_backoff_max_seconds,
                    rng=self.rng,
                )
        except SQLAlchemyError as exc:
            # The lease will run out and the message be sent again, with the same key.
            self.stats.unrecorded += 1
            log.error(
                "outbox id=%d channel=%s attempt=%d outcome=%s status=unrecorded key=%s error=%s",
                message.id,
                message.channel,
                message.attempt,
                result.outcome.value,
                _quoted(message.idempotency_key),
                _quoted(f"{type(exc).__name__}: {exc}"[:300]),
            )
            return
        counter = {"delivered": "delivered", "pending": "retrying", "dead": "dead"}.get(
            status, "stale"
        )
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        log.info(
            "outbox id=%d channel=%s attempt=%d outcome=%s status=%s key=%s ms=%d detail=%s",
            message.id,
            message.channel,
            message.attempt,
            result.outcome.value,
            status,
            _quoted(message.idempotency_key),
            (time.monotonic() - started) * 1000,
            _quoted(result.detail[:300]),
        )


def run_worker(
    context: Context,
    *,
    worker_id: str | None = None,
    batch_size: int | None = None,
    lease_seconds: int | None = None,
    once: bool = False,
    poll_interval: float = 1.0,
    stop_event: threading.Event | None = None,
    max_messages: int | None = None,
    channels: set[str] | None = None,
    rng: random.Random | None = None,
) -> WorkerStats:
    """Deliver outbox messages until stopped; returns what was done.

    `once`: return when nothing is claimable and no other worker holds a live lease (a
    crashed worker's batch is waited for and taken over when its lease runs out); retries
    scheduled for later are left for a later run. Without `once`, database errors are
    logged and retried with backoff (up to 30 s) instead of ending the loop.
    `max_messages`: return after handling that many. `stop_event`: set it to stop after the
    message in flight. Batch size and lease default to the settings
    (FIRSTWORD_OUTBOX_BATCH_SIZE, FIRSTWORD_OUTBOX_LEASE_SECONDS).
    """
    settings = context.settings
    worker = _Worker(
        context,
        worker_id=worker_id or default_worker_id(),
        batch_size=batch_size or settings.outbox_batch_size,
        lease_seconds=lease_seconds or settings.outbox_lease_seconds,
        stop=stop_event or threading.Event(),
        channels=channels,
        rng=rng,
    )
    stats = worker.stats
    db_errors = 0
    log.info(
        "worker=%s started batch_size=%d lease_seconds=%d once=%s",
        worker.worker_id,
        worker.batch_size,
        worker.lease_seconds,
        once,
    )
    while not worker.stop.is_set():
        limit = worker.batch_size
        if max_messages is not None:
            limit = min(limit, max_messages - stats.processed)
            if limit <= 0:
                break
        try:
            batch = worker.claim(limit)
            if batch:
                worker.process_batch(batch)
            waiting = 0 if batch or not once else worker.outstanding()
        except SQLAlchemyError as exc:
            if once:
                raise
            # The database is away (restart, failover): keep trying, more slowly each time.
            # Whatever this worker still held is taken over by others when its lease ends.
            db_errors += 1
            delay = min(MAX_DB_RETRY_SECONDS, poll_interval * 2**db_errors)
            log.error(
                "worker=%s database error: %s; retrying in %.0fs",
                worker.worker_id,
                f"{type(exc).__name__}: {exc}"[:300],
                delay,
            )
            worker.stop.wait(delay)
            continue
        db_errors = 0
        if batch:
            continue
        if once and waiting == 0:
            break
        worker.stop.wait(poll_interval)
    log.info("worker=%s finished %s", worker.worker_id, stats.line())
    return stats

"""Real `firstword worker` processes: killed with SIGKILL mid-batch (PostgreSQL), and stopped
with SIGTERM (SQLite). Messages go to a local webhook receiver that checks signatures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from firstword.context import Context, build_context
from firstword.core import outbox
from firstword.core.clock import SystemClock
from firstword.core.db import transaction
from firstword.core.migrate import upgrade
from firstword.core.outbox import OutboxMessage
from firstword.core.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.workers.receiver import WebhookReceiver

SECRET = "kill-test-secret"
MESSAGES = 60


def _enqueue_webhooks(ctx: Context, url: str, count: int) -> list[str]:
    """Queued with the system clock: the worker processes run on real time."""
    keys = [f"kill-test:{i:03d}" for i in range(count)]
    with transaction(ctx.sessionmaker) as session:
        for i, key in enumerate(keys):
            outbox.enqueue(
                session,
                clock=SystemClock(),
                channel="webhook",
                recipient=url,
                payload={"body": {"n": i}},
                idempotency_key=key,
                topic="test",
            )
    return keys


def _worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "firstword", "worker", *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )


def _env(tmp_path: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTWORD_")}
    env.update(FIRSTWORD_SECRET_KEY=SECRET, FIRSTWORD_DATA_DIR=str(tmp_path / "data"))
    if database_url:
        env["FIRSTWORD_DATABASE_URL"] = database_url
    return env


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.postgresql
@pytest.mark.slow
def test_worker_killed_mid_batch_loses_nothing_and_repeats_at_most_the_message_in_flight(
    committing_context: Context,
    backend: str,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    if backend != "postgresql":
        pytest.skip("the crash test runs on PostgreSQL (SKIP LOCKED); see test_worker.py")
    ctx = committing_context
    log_a, log_b = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
    with WebhookReceiver(SECRET, delay=0.05) as receiver:
        keys = _enqueue_webhooks(ctx, receiver.url, MESSAGES)
        env = _env(tmp_path, POSTGRES_URL)
        common = ["--batch-size", "30", "--lease-seconds", "3", "--poll-interval", "0.1"]
        worker_a = _worker(env, log_a, *common, "--worker-id", "worker-a")
        processes.append(worker_a)
        deadline = time.monotonic() + 60
        while len(receiver.hits()) < 8:
            assert worker_a.poll() is None, log_a.read_text()
            assert time.monotonic() < deadline, "worker A delivered too little in 60 s"
            time.sleep(0.005)
        os.kill(worker_a.pid, signal.SIGKILL)
        assert worker_a.wait(10) == -signal.SIGKILL
        b_started = datetime.now(UTC)
        worker_b = _worker(env, log_b, *common, "--worker-id", "worker-b", "--once")
        processes.append(worker_b)
        assert worker_b.wait(120) == 0, log_b.read_text()
        hits = receiver.hits()

    with transaction(ctx.sessionmaker) as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert len(rows) == MESSAGES
    assert {r.status for r in rows} == {"delivered"}, [(r.id, r.status, r.last_error) for r in rows]
    assert all(hit.signature_ok for hit in hits)
    received = [hit.key for hit in hits]
    assert set(received) == set(keys) and len(set(received)) == MESSAGES

    # Split what happened by the moment B started (A was dead by then).
    cut = b_started.timestamp()
    by_a = [hit.key for hit in hits if hit.at < cut]
    by_b = [hit.key for hit in hits if hit.at >= cut]
    recorded_by_a = {
        r.idempotency_key for r in rows if r.delivered_at and r.delivered_at < b_started
    }
    recorded_by_b = {
        r.idempotency_key for r in rows if r.delivered_at and r.delivered_at >= b_started
    }
    assert len(by_a) == len(set(by_a)) and len(by_b) == len(set(by_b))
    assert len(recorded_by_a) >= 7  # A really worked before it was killed...
    taken_over = {r.idempotency_key for r in rows if r.attempts == 2}
    assert taken_over, "...and was killed mid-batch: B took over part of A's claimed batch"
    assert set(by_b) == recorded_by_b == set(keys) - recorded_by_a  # B ran exactly the rest
    repeats = set(by_a) & set(by_b)
    assert len(repeats) <= 1, f"more than the one message in flight was repeated: {repeats}"
    in_flight = set(by_a) - recorded_by_a  # sent by A, outcome lost with A
    assert len(in_flight) <= 1
    assert repeats == in_flight  # any repeat is that message, and it was resent by B
    assert repeats <= taken_over
    assert len(received) == MESSAGES + len(repeats)


@pytest.mark.slow
def test_sigterm_finishes_the_message_in_flight_then_exits(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=SECRET)
    ctx = build_context(settings, channels={})
    try:
        upgrade(ctx.engine)
        with WebhookReceiver(SECRET) as receiver:
            receiver.gate = gate = threading.Event()
            _enqueue_webhooks(ctx, receiver.url, 5)
            log = tmp_path / "worker.log"
            worker = _worker(
                _env(tmp_path, None),
                log,
                "--batch-size",
                "5",
                "--lease-seconds",
                "60",
                "--worker-id",
                "graceful",
            )
            processes.append(worker)
            receiver.wait_for(1)  # the first message is in flight, held by the receiver
            worker.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert worker.poll() is None, "SIGTERM must not abort the message in flight"
            gate.set()
            assert worker.wait(30) == 0, log.read_text()
            assert len(receiver.hits()) == 1
        with transaction(ctx.sessionmaker) as session:
            rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert rows[0].status == "delivered"
        assert {(r.status, r.claimed_by, r.attempts) for r in rows[1:]} == {("pending", None, 0)}
        text = log.read_text()
        assert "received SIGTERM" in text
        assert f"outbox id={rows[0].id} channel=webhook attempt=1 outcome=delivered" in text
    finally:
        ctx.close()

"""Outbox e-mail delivery rate against plain smtplib, in one run, on this machine.

What it measures: messages per second that `firstword worker` (the real run_worker loop, the
real SMTP channel, the outbox in SQLite or PostgreSQL) delivers to an aiosmtpd sink on
loopback, against two baselines sending the same messages with smtplib directly: one new
connection per message (what the channel does today) and one persistent connection (the
ceiling, see shared/research/perf-anchors.md B.4). Medians of --runs runs.

    .venv/bin/python benchmarks/outbox_smtp.py [--messages 2000] [--runs 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from firstword.context import build_context
from firstword.core import outbox
from firstword.core.settings import Settings
from firstword.workers.run import run_worker


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def message(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "status@example.com"
    msg["To"] = f"customer{i}@example.org"
    msg["Subject"] = "Update on the online ordering outage"
    msg.set_content("We are still working on it. Next update by 19:30 UTC.\n" * 5)
    return msg


def smtplib_per_message(port: int, n: int) -> float:
    import smtplib

    start = time.perf_counter()
    for i in range(n):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message(i))
    return n / (time.perf_counter() - start)


def smtplib_persistent(port: int, n: int) -> float:
    import smtplib

    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(n):
            smtp.send_message(message(i))
    return n / (time.perf_counter() - start)


def firstword_worker(port: int, n: int, database_url: str | None) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=database_url, smtp_port=port, secret_key="bench"
        )
        context = build_context(settings)
        from firstword.core.migrate import upgrade

        upgrade(context.engine)
        with context.sessionmaker() as session, session.begin():
            session.query(outbox.OutboxMessage).delete()
            for i in range(n):
                outbox.enqueue(
                    session,
                    clock=context.clock,
                    channel="smtp",
                    recipient=f"customer{i}@example.org",
                    payload={
                        "subject": "Update on the online ordering outage",
                        "text": "We are still working on it. Next update by 19:30 UTC.\n" * 5,
                    },
                    idempotency_key=f"bench:{time.time_ns()}:{i}",
                )
        start = time.perf_counter()
        stats = run_worker(context, worker_id="bench", batch_size=100, once=True)
        elapsed = time.perf_counter() - start
        context.close()
        if stats.delivered != n:
            raise SystemExit(f"worker delivered {stats.delivered} of {n}")
        return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    args = parser.parse_args()

    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rows: dict[str, list[float]] = {
            "smtplib, one connection per message": [],
            "smtplib, one persistent connection": [],
            "firstword worker, SQLite outbox": [],
        }
        if args.postgres:
            rows["firstword worker, PostgreSQL outbox"] = []
        for _ in range(args.runs):
            rows["smtplib, one connection per message"].append(
                smtplib_per_message(port, args.messages)
            )
            rows["smtplib, one persistent connection"].append(
                smtplib_persistent(port, args.messages)
            )
            rows["firstword worker, SQLite outbox"].append(
                firstword_worker(port, args.messages, None)
            )
            if args.postgres:
                rows["firstword worker, PostgreSQL outbox"].append(
                    firstword_worker(port, args.messages, args.postgres)
                )
    finally:
        controller.stop()
    baseline = statistics.median(rows["smtplib, one connection per message"])
    print(f"{args.messages} messages, median of {args.runs} runs")
    print(f"{'path':45} {'msg/s':>8} {'vs per-message smtplib':>24}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:45} {median:8.0f} {median / baseline:23.0%}")


if __name__ == "__main__":
    main()

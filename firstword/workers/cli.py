"""`firstword worker`: deliver what the outbox holds."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import typer

from firstword.clisupport import err_console, get_context, handle_errors
from firstword.core.errors import InvalidInput
from firstword.workers.events import install_event_channel
from firstword.workers.run import default_worker_id, run_worker
from firstword.workers.scheduler import check_once, start_scheduler_thread


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT ask the loop to stop after the message in flight; a second signal
    gets the default behaviour (so a stuck worker can still be interrupted)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGTERM, signal.SIGINT]
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in signals}

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("firstword.worker").info(
            "received %s: finishing the current message, then stopping", signal.Signals(signum).name
        )
        # Set the event from another thread: Event.set() takes a lock the interrupted main
        # thread may be holding inside Event.wait(), which would deadlock here.
        threading.Thread(target=stop.set, daemon=True).start()
        for sig in signals:
            signal.signal(sig, previous[sig])

    for sig in signals:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig in signals:
            signal.signal(sig, previous[sig])


@contextmanager
def _log_to_stderr() -> Iterator[None]:
    """One line per message on stderr while the command runs."""
    loggers = [logging.getLogger("firstword.worker"), logging.getLogger("firstword.scheduler")]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@handle_errors
def worker(
    once: bool = typer.Option(
        False,
        "--once",
        help="Deliver everything that is due, wait for batches leased by other (possibly "
        "crashed) workers to finish or be taken over, then exit. Later retries are left.",
    ),
    batch_size: int | None = typer.Option(
        None,
        "--batch-size",
        min=1,
        help="Messages claimed at once (default FIRSTWORD_OUTBOX_BATCH_SIZE).",
    ),
    lease_seconds: int | None = typer.Option(
        None,
        "--lease-seconds",
        min=1,
        help="How long a claimed batch stays reserved (default FIRSTWORD_OUTBOX_LEASE_SECONDS); "
        "keep it well above a channel's 30 s timeout.",
    ),
    poll_interval: float = typer.Option(
        1.0, "--poll-interval", min=0.01, help="Seconds to sleep when nothing is due."
    ),
    worker_id: str | None = typer.Option(
        None, "--worker-id", help="Name of this worker in leases and logs (default host:pid)."
    ),
    max_messages: int | None = typer.Option(
        None, "--max-messages", min=1, help="Exit after handling this many messages."
    ),
    channel: list[str] | None = typer.Option(
        None, "--channel", help="Only deliver messages for this channel (repeatable)."
    ),
    scheduler: bool = typer.Option(
        True,
        "--scheduler/--no-scheduler",
        help="Also check every minute for overdue public updates and alert the communications "
        "role (with --once: check once before delivering). Safe to run in several workers.",
    ),
) -> None:
    """Deliver queued messages (e-mail, webhooks) from the outbox, with retries.

    Runs until SIGTERM/SIGINT (which finish the message in flight first), or with --once
    until nothing is due. Logs one line per message to stderr. Unless --no-scheduler, it
    also checks the update cadence every minute (overdue public updates are recorded on the
    incident's timeline and e-mailed to its communications lead).
    """
    context = get_context()
    install_event_channel(context)
    wanted = set(channel) if channel else None
    if wanted:
        unknown = sorted(wanted - set(context.channels))
        if unknown:
            raise InvalidInput(
                "--channel",
                f"not installed: {', '.join(unknown)} "
                f"(installed: {', '.join(sorted(context.channels))})",
            )
    if len(worker_id or "") > 100:
        raise InvalidInput("--worker-id", "must be at most 100 characters")
    stop = threading.Event()
    with _log_to_stderr(), _stop_on_signals(stop):
        checker = None
        if scheduler and once:
            check_once(context)
        elif scheduler:
            checker = start_scheduler_thread(context, stop)
        stats = run_worker(
            context,
            worker_id=worker_id or default_worker_id(),
            batch_size=batch_size,
            lease_seconds=lease_seconds,
            once=once,
            poll_interval=poll_interval,
            stop_event=stop,
            max_messages=max_messages,
            channels=wanted,
        )
        if checker is not None:
            stop.set()
            checker.join(30)
    err_console.print(
        f"worker done: {stats.delivered} delivered, {stats.retrying} to retry, "
        f"{stats.dead} dead-lettered",
        highlight=False,
    )


def mount(app: typer.Typer) -> None:
    """Add `firstword worker` to the root app."""
    app.command("worker")(worker)

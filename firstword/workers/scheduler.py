"""Periodic checks that run beside the outbox worker: for now, the update cadence (is any
open incident's promised public update overdue?).

`firstword worker` and the embedded background worker of `firstword serve` / `firstword
demo` each run `run_scheduler` in a thread. Running it in several processes at once is
safe: a miss is recorded once (the incident row is locked while it is recorded, and every
alert e-mail has its own outbox idempotency key), so extra schedulers only cost a query.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError

from firstword.context import Context
from firstword.core.db import transaction
from firstword.incidents import service as incidents
from firstword.incidents.schemas import OverdueUpdate

log = logging.getLogger("firstword.scheduler")

DEFAULT_INTERVAL_SECONDS = 60.0
MAX_RETRY_SECONDS = 300.0


def check_once(context: Context) -> list[OverdueUpdate]:
    """One overdue check in a transaction of its own; logs what it recorded."""
    settings = context.settings
    policy = incidents.load_cadence_policy(settings.data_dir)
    if policy.problem:
        log.warning("cadence: %s", policy.problem)
    with transaction(context.sessionmaker) as session:
        found = incidents.check_overdue_updates(
            session, clock=context.clock, policy=policy, base_url=settings.public_base_url
        )
    for item in found:
        if item.newly_recorded:
            log.warning(
                "cadence: %s (%s) public update overdue by %d min (due %s); alerted %s",
                item.ref,
                item.severity.value,
                item.minutes_overdue,
                item.due_at.isoformat(),
                ", ".join(item.alerted) or "nobody (no communications user)",
            )
    return found


def run_scheduler(
    context: Context,
    stop_event: threading.Event,
    interval: float = DEFAULT_INTERVAL_SECONDS,
) -> int:
    """Check every `interval` seconds until `stop_event` is set; returns the number of checks
    made. A failed check (database away, a bug) is logged and retried later with backoff,
    never ends the loop: a missed alert is worse than a noisy log."""
    checks = 0
    failures = 0
    log.info("scheduler started: update cadence every %gs", interval)
    while not stop_event.is_set():
        try:
            check_once(context)
            failures = 0
        except SQLAlchemyError as exc:
            failures += 1
            log.error("scheduler: database error: %s", f"{type(exc).__name__}: {exc}"[:300])
        except Exception:  # keep checking: the next minute may work
            failures += 1
            log.exception("scheduler: the overdue check failed")
        checks += 1
        delay = interval if not failures else min(MAX_RETRY_SECONDS, interval * 2**failures)
        stop_event.wait(delay)
    log.info("scheduler stopped after %d check(s)", checks)
    return checks


def start_scheduler_thread(
    context: Context, stop_event: threading.Event, interval: float = DEFAULT_INTERVAL_SECONDS
) -> threading.Thread:
    thread = threading.Thread(
        target=run_scheduler,
        args=(context, stop_event, interval),
        name="firstword-scheduler",
        daemon=True,
    )
    thread.start()
    return thread

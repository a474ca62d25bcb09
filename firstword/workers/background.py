"""An outbox worker in a background thread, for the embedded single-process set-up
(`firstword serve` and `firstword demo` run one unless told not to), with the scheduler's
update-cadence check beside it."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from firstword.context import Context
from firstword.workers.events import install_event_channel
from firstword.workers.run import default_worker_id, run_worker
from firstword.workers.scheduler import DEFAULT_INTERVAL_SECONDS, start_scheduler_thread

log = logging.getLogger("firstword.worker")


@dataclass
class BackgroundWorker:
    thread: threading.Thread
    stop_event: threading.Event
    scheduler: threading.Thread | None = None  # the update-cadence check (scheduler.py)

    def stop(self, timeout: float = 30.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        if self.scheduler is not None:
            self.scheduler.join(timeout)


def start_background_worker(
    context: Context,
    *,
    poll_interval: float = 1.0,
    scheduler: bool = True,
    scheduler_interval: float = DEFAULT_INTERVAL_SECONDS,
) -> BackgroundWorker:
    install_event_channel(context)
    stop = threading.Event()
    worker_id = f"{default_worker_id()}:embedded"

    def loop() -> None:
        try:
            run_worker(
                context,
                worker_id=worker_id,
                batch_size=context.settings.outbox_batch_size,
                lease_seconds=context.settings.outbox_lease_seconds,
                once=False,
                poll_interval=poll_interval,
                stop_event=stop,
            )
        except Exception:  # log it; the web app keeps serving
            log.exception("embedded outbox worker stopped")

    thread = threading.Thread(target=loop, name="firstword-outbox", daemon=True)
    thread.start()
    checker = start_scheduler_thread(context, stop, scheduler_interval) if scheduler else None
    return BackgroundWorker(thread, stop, checker)

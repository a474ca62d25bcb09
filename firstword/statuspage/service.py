"""The status page domain's public face: what other code imports
(`from firstword.statuspage import service as statuspage`).

* the view of what the public sees (`build_view`, `StatusView`);
* the rendered snapshot (`rebuild`, `list_artifacts`, `latest_change`, `banner_of`);
* scheduled maintenance (`schedule_maintenance`, `start_maintenance`, ...);
* the static export (`export_site`);
* `event_handlers(context)`: what the worker runs when incidents or maintenances change.
"""

from __future__ import annotations

import logging
from typing import Any

from firstword.context import Context
from firstword.core.db import transaction
from firstword.core.events import EventHandler
from firstword.statuspage.export import ExportReport, export_site
from firstword.statuspage.maintenance import (
    MAINTENANCE_CHANGED,
    MaintenanceRead,
    MaintenanceSchedule,
    MaintenanceStatus,
    MaintenanceStep,
    cancel_maintenance,
    complete_maintenance,
    get_maintenance,
    list_maintenances,
    schedule_maintenance,
    start_maintenance,
    verify_maintenance,
)
from firstword.statuspage.snapshot import (
    Artifact,
    RebuildReport,
    banner_of,
    get_artifact,
    latest_change,
    list_artifacts,
    rebuild,
)
from firstword.statuspage.view import StatusView, build_view

__all__ = [
    "INCIDENT_CHANGED",
    "MAINTENANCE_CHANGED",
    "Artifact",
    "ExportReport",
    "MaintenanceRead",
    "MaintenanceSchedule",
    "MaintenanceStatus",
    "MaintenanceStep",
    "RebuildError",
    "RebuildReport",
    "StatusView",
    "banner_of",
    "build_view",
    "cancel_maintenance",
    "complete_maintenance",
    "event_handlers",
    "export_site",
    "get_artifact",
    "get_maintenance",
    "latest_change",
    "list_artifacts",
    "list_maintenances",
    "rebuild",
    "rebuild_now",
    "schedule_maintenance",
    "start_maintenance",
    "verify_maintenance",
]

log = logging.getLogger("firstword.statuspage")

# Published by the incidents domain (incidents/timeline.py) on every public change.
INCIDENT_CHANGED = "incident.changed"


class RebuildError(RuntimeError):
    """Rendering failed; the previous snapshot is still in place (the event will retry)."""


def rebuild_now(context: Context) -> RebuildReport:
    """Rebuild the snapshot in a transaction of its own."""
    with transaction(context.sessionmaker) as session:
        return rebuild(session, clock=context.clock, settings=context.settings)


def event_handlers(context: Context) -> dict[str, list[EventHandler]]:
    """Topic -> handlers for the worker's event channel: re-render the public site after
    every public change to an incident or a maintenance. A failed render raises, so the
    outbox retries the event with backoff while the last good snapshot stays online."""

    def rerender(payload: dict[str, Any]) -> None:
        report = rebuild_now(context)
        if not report.ok:
            raise RebuildError("; ".join(report.errors))
        log.info("status page re-rendered after %s: %s", payload.get("ref", "?"), report.line())

    rerender.__qualname__ = "statuspage.rerender"
    return {INCIDENT_CHANGED: [rerender], MAINTENANCE_CHANGED: [rerender]}

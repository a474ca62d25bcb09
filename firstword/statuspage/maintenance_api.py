"""Staff REST API for scheduled maintenance (mounted at /api/v1).

Announcing and running maintenance is public communication: incident commanders and the
communications role may do it (admin holds every role); any staff member may read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from firstword.core.auth.roles import Actor, Role
from firstword.statuspage import service as statuspage
from firstword.statuspage.maintenance import MaintenanceRead, MaintenanceSchedule, MaintenanceStep
from firstword.web.deps import ClockDep, SessionDep, require_role

MAINTENANCE_ROLES = (Role.INCIDENT_COMMANDER, Role.COMMUNICATIONS)

Reader = Annotated[Actor, Depends(require_role())]
Scheduler = Annotated[Actor, Depends(require_role(*MAINTENANCE_ROLES))]
Ref = Annotated[str, Path(description="Maintenance reference, e.g. MNT-2026-0001.", max_length=30)]

router = APIRouter(prefix="/maintenances", tags=["maintenance"])


@router.get("", response_model=list[MaintenanceRead])
def list_maintenances(session: SessionDep, _actor: Reader) -> list[MaintenanceRead]:
    """Every maintenance, soonest scheduled first (cancelled ones included)."""
    return statuspage.list_maintenances(session)


@router.post("", response_model=MaintenanceRead, status_code=status.HTTP_201_CREATED)
def schedule(
    data: MaintenanceSchedule, session: SessionDep, clock: ClockDep, actor: Scheduler
) -> MaintenanceRead:
    """Announce planned work on components between `scheduled_for` and `scheduled_until`."""
    return statuspage.schedule_maintenance(session, clock=clock, actor=actor, data=data)


@router.get("/{ref}", response_model=MaintenanceRead)
def get(ref: Ref, session: SessionDep, _actor: Reader) -> MaintenanceRead:
    return statuspage.get_maintenance(session, ref=ref)


@router.post("/{ref}/start", response_model=MaintenanceRead)
def start(
    ref: Ref,
    session: SessionDep,
    clock: ClockDep,
    actor: Scheduler,
    data: MaintenanceStep | None = None,
) -> MaintenanceRead:
    """scheduled → in_progress: the components show `under_maintenance`."""
    return statuspage.start_maintenance(
        session, clock=clock, actor=actor, ref=ref, data=data or MaintenanceStep()
    )


@router.post("/{ref}/verify", response_model=MaintenanceRead)
def verify(
    ref: Ref,
    session: SessionDep,
    clock: ClockDep,
    actor: Scheduler,
    data: MaintenanceStep | None = None,
) -> MaintenanceRead:
    """in_progress → verifying."""
    return statuspage.verify_maintenance(
        session, clock=clock, actor=actor, ref=ref, data=data or MaintenanceStep()
    )


@router.post("/{ref}/complete", response_model=MaintenanceRead)
def complete(
    ref: Ref,
    session: SessionDep,
    clock: ClockDep,
    actor: Scheduler,
    data: MaintenanceStep | None = None,
) -> MaintenanceRead:
    """in_progress or verifying → completed."""
    return statuspage.complete_maintenance(
        session, clock=clock, actor=actor, ref=ref, data=data or MaintenanceStep()
    )


@router.post("/{ref}/cancel", response_model=MaintenanceRead)
def cancel(
    ref: Ref,
    session: SessionDep,
    clock: ClockDep,
    actor: Scheduler,
    data: MaintenanceStep | None = None,
) -> MaintenanceRead:
    """scheduled → cancelled (it leaves the public page)."""
    return statuspage.cancel_maintenance(
        session, clock=clock, actor=actor, ref=ref, data=data or MaintenanceStep()
    )

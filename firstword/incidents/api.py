"""Staff REST API for incidents, the component catalogue and playbooks (mounted at /api/v1).

Thin: parse, check the role, call `incidents` service, return its schema. Errors come from
the service (`core.errors`) and are mapped to 4xx JSON by web/app.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy.orm import Session

from firstword.core.auth.roles import Actor, Role
from firstword.core.clock import Clock
from firstword.core.errors import Forbidden
from firstword.incidents import service as incidents
from firstword.incidents.schemas import (
    ClockMark,
    ComponentIn,
    ComponentRead,
    ComponentStatusChange,
    DataCategoriesChange,
    IncidentCreate,
    IncidentEdit,
    IncidentRead,
    IncidentSummary,
    NoteAdd,
    Page,
    PlaybookRead,
    RoleAssign,
    StateChange,
    TaskAdd,
    TimelineEntryRead,
    TransparencyClock,
    UpdatePost,
)
from firstword.incidents.vocabulary import IncidentKind, IncidentRole, IncidentState
from firstword.web.deps import ClockDep, ContextDep, SessionDep, require_role

# --- Who may do what. Admin holds every role. The console pages reuse this table. -----------
READ_ROLES: tuple[Role, ...] = ()  # empty: any signed-in staff role, viewer included
COMMAND_ROLES = (Role.INCIDENT_COMMANDER,)  # open, edit, state, components, roles, tasks, clock
PUBLIC_UPDATE_ROLES = (Role.INCIDENT_COMMANDER, Role.COMMUNICATIONS)
DATA_CATEGORY_ROLES = (Role.INCIDENT_COMMANDER, Role.SECURITY, Role.LEGAL)
NOTE_ROLES = tuple(r for r in Role if r is not Role.VIEWER)
# Completing a task: the commander, or anyone holding the task's owner role (checked per task,
# so legal can tick off the legal tasks a playbook created); the route itself asks NOTE_ROLES.
TASK_COMPLETE_ROLES = NOTE_ROLES
CATALOGUE_ROLES = (Role.ADMIN,)

Reader = Annotated[Actor, Depends(require_role(*READ_ROLES))]
Commander = Annotated[Actor, Depends(require_role(*COMMAND_ROLES))]
Communicator = Annotated[Actor, Depends(require_role(*PUBLIC_UPDATE_ROLES))]
DataCategoryEditor = Annotated[Actor, Depends(require_role(*DATA_CATEGORY_ROLES))]
NoteWriter = Annotated[Actor, Depends(require_role(*NOTE_ROLES))]
TaskCompleter = Annotated[Actor, Depends(require_role(*TASK_COMPLETE_ROLES))]
CatalogueAdmin = Annotated[Actor, Depends(require_role(*CATALOGUE_ROLES))]

Ref = Annotated[str, Path(description="Incident reference, e.g. INC-2026-0001.", max_length=30)]


def can_complete_task(actor: Actor, owner_role: str) -> bool:
    """The commander (or admin) may complete any task; others only their own role's tasks."""
    roles = {Role.INCIDENT_COMMANDER}
    if owner_role in {r.value for r in Role}:
        roles.add(Role(owner_role))
    return actor.has_any(roles)


def complete_task_checked(
    session: Session, clock: Clock, actor: Actor, ref: str, task_id: int
) -> IncidentRead:
    """Shared by the API and the console: refuse before the service changes anything."""
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    task = next((t for t in incident.tasks if t.id == task_id), None)
    if task is not None and not can_complete_task(actor, task.owner_role):
        raise Forbidden(
            f"task {task_id} belongs to the {task.owner_role} role; only that role or the "
            "incident commander may complete it"
        )
    return incidents.complete_task(session, clock=clock, actor=actor, ref=ref, task_id=task_id)


router = APIRouter()


@router.get(
    "/incidents", response_model=Page[IncidentSummary], tags=["incidents"], summary="List incidents"
)
def list_incidents(
    session: SessionDep,
    clock: ClockDep,
    _actor: Reader,
    state: Annotated[
        list[IncidentState] | None,
        Query(description="Only incidents in these states (repeat the parameter for several)."),
    ] = None,
    kind: Annotated[IncidentKind | None, Query(description="Only incidents of this kind.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="`next_cursor` from the previous page."),
    ] = None,
) -> Page[IncidentSummary]:
    """Newest first. Follow `next_cursor` until it is null to read every page."""
    return incidents.list_incidents(
        session, clock=clock, states=state, kind=kind, limit=limit, cursor=cursor
    )


@router.post(
    "/incidents",
    response_model=IncidentRead,
    status_code=status.HTTP_201_CREATED,
    tags=["incidents"],
    summary="Open an incident",
)
def open_incident(
    data: IncidentCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    context: ContextDep,
    actor: Commander,
) -> IncidentRead:
    """Opens an incident in state `investigating` and creates the tasks of its playbook (the
    default playbook for its kind unless `playbook` names another). Opening a second open
    incident with the same title is refused with 409. The `Location` header names the new
    incident."""
    incident = incidents.open_incident(
        session,
        clock=context.clock,
        actor=actor,
        data=data,
        playbook_dirs=[context.settings.user_playbooks_dir],
    )
    response.headers["Location"] = request.url_for("get_incident", ref=incident.ref).path
    return incident


@router.get(
    "/incidents/{ref}", response_model=IncidentRead, tags=["incidents"], summary="Show an incident"
)
def get_incident(ref: Ref, session: SessionDep, clock: ClockDep, _actor: Reader) -> IncidentRead:
    """Everything about one incident: components, data categories, people in roles, tasks,
    public updates (newest first), internal notes and the transparency clock."""
    return incidents.get_incident(session, clock=clock, ref=ref)


@router.patch(
    "/incidents/{ref}",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Edit title, severity, summary or customer advice",
)
def edit_incident(
    ref: Ref, data: IncidentEdit, session: SessionDep, clock: ClockDep, actor: Commander
) -> IncidentRead:
    """Only the fields given are changed. Send `expected_version` (the `version` you read) to
    have the edit refused with 409 if someone else changed the incident meanwhile."""
    return incidents.edit_incident(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/state",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Move the incident to another state",
)
def change_state(
    ref: Ref, data: StateChange, session: SessionDep, clock: ClockDep, actor: Commander
) -> IncidentRead:
    """investigating → identified → monitoring → resolved → postmortem; moving back is allowed
    (incidents relapse), a postmortem is final. A transition not allowed is refused with 422."""
    return incidents.change_state(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/components",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Set the status of affected components",
)
def set_component_status(
    ref: Ref, data: ComponentStatusChange, session: SessionDep, clock: ClockDep, actor: Commander
) -> IncidentRead:
    """Keys come from the component catalogue (`GET /components`); a component not yet affected
    is added. An unknown key is refused with 422 naming it."""
    return incidents.set_component_status(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/data-categories",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Add or remove exposed data categories",
)
def change_data_categories(
    ref: Ref,
    data: DataCategoriesChange,
    session: SessionDep,
    clock: ClockDep,
    actor: DataCategoryEditor,
) -> IncidentRead:
    """The kinds of personal data the incident exposed; they drive breach obligations."""
    return incidents.change_data_categories(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/updates",
    response_model=IncidentRead,
    status_code=status.HTTP_201_CREATED,
    tags=["incidents"],
    summary="Post a public update",
)
def post_update(
    ref: Ref, data: UpdatePost, session: SessionDep, clock: ClockDep, actor: Communicator
) -> IncidentRead:
    """Publishes an update for customers, optionally moving the state and component statuses
    in the same step. The first one sets the clock's `acknowledged_at`. Returns the incident;
    the new update is `updates[0]`."""
    return incidents.post_update(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/notes",
    response_model=IncidentRead,
    status_code=status.HTTP_201_CREATED,
    tags=["incidents"],
    summary="Add an internal note",
)
def add_note(
    ref: Ref, data: NoteAdd, session: SessionDep, clock: ClockDep, actor: NoteWriter
) -> IncidentRead:
    """Staff-only; never published."""
    return incidents.add_note(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/roles",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Put a person in an incident role",
)
def assign_role(
    ref: Ref, data: RoleAssign, session: SessionDep, clock: ClockDep, actor: Commander
) -> IncidentRead:
    """Roles on this incident (incident commander, communications, legal, security, customer
    service), distinct from staff permission roles."""
    return incidents.assign_role(session, clock=clock, actor=actor, ref=ref, data=data)


@router.delete(
    "/incidents/{ref}/roles/{role}/{user_id}",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Take a person out of an incident role",
)
def unassign_role(
    ref: Ref,
    role: IncidentRole,
    user_id: Annotated[int, Path(ge=1)],
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> IncidentRead:
    """404 if the person does not hold that role on this incident."""
    data = RoleAssign(role=role, user_id=user_id)
    return incidents.unassign_role(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/tasks",
    response_model=IncidentRead,
    status_code=status.HTTP_201_CREATED,
    tags=["incidents"],
    summary="Add a task",
)
def add_task(
    ref: Ref, data: TaskAdd, session: SessionDep, clock: ClockDep, actor: Commander
) -> IncidentRead:
    """A task with an owner role and an optional due time (UTC)."""
    return incidents.add_task(session, clock=clock, actor=actor, ref=ref, data=data)


@router.post(
    "/incidents/{ref}/tasks/{task_id}/complete",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Complete a task",
)
def complete_task(
    ref: Ref,
    task_id: Annotated[int, Path(ge=1)],
    session: SessionDep,
    clock: ClockDep,
    actor: TaskCompleter,
) -> IncidentRead:
    """The incident commander may complete any task; other staff only the tasks owned by a role
    they hold (403 otherwise)."""
    return complete_task_checked(session, clock, actor, ref, task_id)


@router.post(
    "/incidents/{ref}/clock",
    response_model=IncidentRead,
    tags=["incidents"],
    summary="Mark a transparency-clock milestone",
)
def mark_clock(
    ref: Ref, data: ClockMark, session: SessionDep, clock: ClockDep, actor: Commander
) -> IncidentRead:
    """`customers_notified` or `contained`, now or at `at`. Detection, first public word and
    resolution are recorded automatically."""
    return incidents.mark_clock(session, clock=clock, actor=actor, ref=ref, data=data)


@router.get(
    "/incidents/{ref}/clock",
    response_model=TransparencyClock,
    tags=["incidents"],
    summary="Show the transparency clock",
)
def get_clock(ref: Ref, session: SessionDep, clock: ClockDep, _actor: Reader) -> TransparencyClock:
    """Milestones and the derived durations in seconds (time to acknowledge, time to notify,
    time since the last public update)."""
    return incidents.get_incident(session, clock=clock, ref=ref).clock


@router.get(
    "/incidents/{ref}/timeline",
    response_model=list[TimelineEntryRead],
    tags=["incidents"],
    summary="Show the timeline",
)
def get_timeline(ref: Ref, session: SessionDep, _actor: Reader) -> list[TimelineEntryRead]:
    """Every change, oldest first: who, what, when, and the values before and after."""
    return incidents.timeline(session, ref=ref)


@router.get(
    "/components",
    response_model=list[ComponentRead],
    tags=["components"],
    summary="List the component catalogue",
)
def list_components(session: SessionDep, _actor: Reader) -> list[ComponentRead]:
    """Every component with its current status (the worst any open incident gives it)."""
    return incidents.list_components(session)


@router.post(
    "/components",
    response_model=ComponentRead,
    status_code=status.HTTP_201_CREATED,
    tags=["components"],
    summary="Add a component to the catalogue",
)
def add_component(
    data: ComponentIn, session: SessionDep, clock: ClockDep, actor: CatalogueAdmin
) -> ComponentRead:
    """Admin only. The key must be new (409 otherwise)."""
    return incidents.add_component(session, clock=clock, actor=actor, data=data)


@router.get(
    "/playbooks", response_model=list[PlaybookRead], tags=["playbooks"], summary="List playbooks"
)
def list_playbooks(context: ContextDep, _actor: Reader) -> list[PlaybookRead]:
    """Shipped playbooks and the user's own (DATA_DIR/playbooks), with their tasks."""
    return incidents.list_playbooks([context.settings.user_playbooks_dir])

"""The incident page (/console/incidents/{ref}) and the forms on it.

Each form posts to a small endpoint that calls the service and redirects back to its panel
with a flash message (Post/Redirect/Get), or re-renders the page with the message next to
the field and the input kept. Completing a task also answers htmx with just the task panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor
from firstword.core.clock import Clock
from firstword.core.errors import InvalidInput
from firstword.incidents import display, forms
from firstword.incidents import service as incidents
from firstword.incidents.api import (
    COMMAND_ROLES,
    DATA_CATEGORY_ROLES,
    NOTE_ROLES,
    PUBLIC_UPDATE_ROLES,
    Commander,
    Communicator,
    DataCategoryEditor,
    NoteWriter,
    Reader,
    TaskCompleter,
    can_complete_task,
    complete_task_checked,
)
from firstword.incidents.forms import DoneQuery, FormDep, RefPath
from firstword.incidents.schemas import (
    ClockMark,
    ComponentStatusChange,
    DataCategoriesChange,
    IncidentEdit,
    NoteAdd,
    RoleAssign,
    StateChange,
    TaskAdd,
    UpdatePost,
)
from firstword.incidents.vocabulary import (
    TRANSITIONS,
    ComponentStatus,
    DataCategory,
    IncidentRole,
    IncidentState,
    Severity,
)
from firstword.web.deps import ClockDep, SessionDep

router = APIRouter(include_in_schema=False)


def _cadence_policy(request: Request) -> incidents.CadencePolicy:
    return incidents.load_cadence_policy(request.app.state.context.settings.data_dir)


def _incident_page(
    request: Request,
    session: Session,
    clock: Clock,
    actor: Actor,
    ref: str,
    *,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    done: str | None = None,
    status_code: int = 200,
    template: str = "incidents/detail.html",
    extra: dict[str, Any] | None = None,
) -> Response:
    """The incident page (or one of its panels), optionally with one form's errors."""
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    affected = {c.key for c in incident.components}
    order = list(IncidentState)
    return display.render_page(
        request,
        template,
        {
            "inc": incident,
            "cadence": display.cadence(incident, clock.now(), _cadence_policy(request)),
            "now": clock.now(),
            "timeline": display.timeline_rows(incidents.timeline(session, ref=ref)),
            "all_states": order,
            "next_states": sorted(TRANSITIONS[incident.state], key=order.index),
            "unaffected": display.grouped(
                [c for c in incidents.list_components(session) if c.key not in affected]
            ),
            "users": [u for u in auth.list_users(session) if u.is_active],
            "severities": list(Severity),
            "statuses": list(ComponentStatus),
            "categories": list(DataCategory),
            "incident_roles": list(IncidentRole),
            "completable": {
                t.id
                for t in incident.tasks
                if t.done_at is None and can_complete_task(actor, t.owner_role)
            },
            "can": {
                "command": actor.has_any(set(COMMAND_ROLES)),
                "publish": actor.has_any(set(PUBLIC_UPDATE_ROLES)),
                "data": actor.has_any(set(DATA_CATEGORY_ROLES)),
                "note": actor.has_any(set(NOTE_ROLES)),
            },
            "failed": failed,
            "errors": errors or {},
            "values": values or {},
            "flash": display.FLASH.get(done or ""),
            **(extra or {}),
        },
        status_code,
    )


@router.get("/incidents/{ref}")
def incident_page(
    request: Request,
    ref: RefPath,
    session: SessionDep,
    clock: ClockDep,
    actor: Reader,
    done: DoneQuery = None,
) -> Response:
    return _incident_page(request, session, clock, actor, ref, done=done)


@router.get("/incidents/{ref}/clock-panel")
def clock_panel(
    request: Request, ref: RefPath, session: SessionDep, clock: ClockDep, actor: Reader
) -> Response:
    """The transparency clock alone, polled by htmx so the waiting time keeps counting."""
    return _incident_page(
        request, session, clock, actor, ref, template="incidents/_clock_panel.html"
    )


def _act(
    request: Request,
    session: Session,
    clock: Clock,
    actor: Actor,
    ref: str,
    *,
    form_name: str,
    values: dict[str, Any],
    action: Callable[[], object],
) -> Response:
    """Run one form's service call: redirect back to its panel, or re-render with errors."""
    errors, status_code = forms.run(session, action)
    if not errors:
        return forms.back(f"/console/incidents/{ref}", form_name, _ANCHORS.get(form_name, ""))
    if status_code == 404:
        incidents.get_incident(session, clock=clock, ref=ref)  # an unknown incident: 404 page
    return _incident_page(
        request,
        session,
        clock,
        actor,
        ref,
        failed=form_name,
        errors=errors,
        values=values,
        status_code=status_code,
    )


_ANCHORS = {
    "role_removed": "people",
    "edit": "details",
    "update": "updates",
    "role": "people",
    "task": "tasks",
    "task_done": "tasks",
    "clock": "state",
    "note": "notes",
    "data": "data",
    "components": "components",
    "state": "state",
}


@router.post("/incidents/{ref}/edit")
def edit_incident(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> Response:
    values = forms.fields(
        form, "title", "severity", "summary", "customer_advice", "expected_version"
    )

    def action() -> None:
        data = IncidentEdit.model_validate(
            {**values, "expected_version": values["expected_version"] or None}
        )
        incidents.edit_incident(session, clock=clock, actor=actor, ref=ref, data=data)

    return _act(request, session, clock, actor, ref, form_name="edit", values=values, action=action)


@router.post("/incidents/{ref}/state")
def change_state(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> Response:
    values = forms.fields(form, "state", "note")

    def action() -> None:
        incidents.change_state(
            session, clock=clock, actor=actor, ref=ref, data=StateChange.model_validate(values)
        )

    return _act(
        request, session, clock, actor, ref, form_name="state", values=values, action=action
    )


@router.post("/incidents/{ref}/components")
def set_component_status(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> Response:
    changes = forms.changed_statuses(form)
    added = forms.text(form, "add_component")
    if added:
        changes[added] = forms.text(form, "add_status") or ComponentStatus.PARTIAL_OUTAGE.value

    def action() -> None:
        if not changes:
            raise InvalidInput("components", "nothing changed: choose a new status")
        incidents.set_component_status(
            session,
            clock=clock,
            actor=actor,
            ref=ref,
            data=ComponentStatusChange.model_validate({"components": changes}),
        )

    return _act(
        request,
        session,
        clock,
        actor,
        ref,
        form_name="components",
        values={"components": changes},
        action=action,
    )


@router.post("/incidents/{ref}/data-categories")
def change_data_categories(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: DataCategoryEditor,
) -> Response:
    # Diff against what the form showed, not what is stored now, so that a colleague's change
    # made while this form was open is not undone.
    checked, shown = set(forms.texts(form, "category")), set(forms.texts(form, "shown"))
    data = {"add": sorted(checked - shown), "remove": sorted(shown - checked)}

    def action() -> None:
        incidents.change_data_categories(
            session,
            clock=clock,
            actor=actor,
            ref=ref,
            data=DataCategoriesChange.model_validate(data),
        )

    return _act(request, session, clock, actor, ref, form_name="data", values=data, action=action)


@router.post("/incidents/{ref}/updates")
def post_update(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Communicator,
) -> Response:
    values: dict[str, Any] = forms.fields(form, "body", "state")
    values["components"] = forms.changed_statuses(form)

    def action() -> None:
        data = UpdatePost.model_validate({**values, "state": values["state"] or None})
        incidents.post_update(session, clock=clock, actor=actor, ref=ref, data=data)

    return _act(
        request, session, clock, actor, ref, form_name="update", values=values, action=action
    )


@router.post("/incidents/{ref}/notes")
def add_note(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: NoteWriter,
) -> Response:
    values = forms.fields(form, "body")

    def action() -> None:
        incidents.add_note(
            session, clock=clock, actor=actor, ref=ref, data=NoteAdd.model_validate(values)
        )

    return _act(request, session, clock, actor, ref, form_name="note", values=values, action=action)


@router.post("/incidents/{ref}/roles")
def assign_role(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> Response:
    values = forms.fields(form, "role", "user_id")

    def action() -> None:
        incidents.assign_role(
            session, clock=clock, actor=actor, ref=ref, data=RoleAssign.model_validate(values)
        )

    return _act(request, session, clock, actor, ref, form_name="role", values=values, action=action)


@router.post("/incidents/{ref}/roles/remove")
def unassign_role(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> Response:
    values = forms.fields(form, "role", "user_id")

    def action() -> None:
        incidents.unassign_role(
            session, clock=clock, actor=actor, ref=ref, data=RoleAssign.model_validate(values)
        )

    return _act(
        request, session, clock, actor, ref, form_name="role_removed", values=values, action=action
    )


@router.post("/incidents/{ref}/tasks")
def add_task(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> Response:
    values = forms.fields(form, "title", "description", "owner_role", "due_at")

    def action() -> None:
        data = TaskAdd.model_validate(
            {**values, "due_at": forms.utc_time("due_at", values["due_at"])}
        )
        incidents.add_task(session, clock=clock, actor=actor, ref=ref, data=data)

    return _act(request, session, clock, actor, ref, form_name="task", values=values, action=action)


@router.post("/incidents/{ref}/tasks/{task_id}/complete")
def complete_task(
    request: Request,
    ref: RefPath,
    task_id: Annotated[int, Path(ge=1)],
    session: SessionDep,
    clock: ClockDep,
    actor: TaskCompleter,
) -> Response:
    def action() -> None:
        complete_task_checked(session, clock, actor, ref, task_id)

    if request.headers.get("hx-request") != "true":
        return _act(
            request, session, clock, actor, ref, form_name="task_done", values={}, action=action
        )
    # htmx swaps the task panel in place. It does not swap 4xx answers, so a refusal comes
    # back as 200 with the message inside the panel.
    errors, _status = forms.run(session, action)
    return _incident_page(
        request,
        session,
        clock,
        actor,
        ref,
        failed="task_done",
        errors=errors,
        done=None if errors else "task_done",
        template="incidents/_tasks.html",
        extra={"panel_flash": True},
    )


@router.post("/incidents/{ref}/clock")
def mark_clock(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    actor: Commander,
) -> Response:
    values = forms.fields(form, "event", "at")

    def action() -> None:
        data = ClockMark.model_validate(
            {"event": values["event"], "at": forms.utc_time("at", values["at"])}
        )
        incidents.mark_clock(session, clock=clock, actor=actor, ref=ref, data=data)

    return _act(
        request, session, clock, actor, ref, form_name="clock", values=values, action=action
    )

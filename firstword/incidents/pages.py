"""Staff console pages for incidents (mounted at /console): the list, opening an incident,
the component catalogue; the incident page and its forms are in incident_page.py.

Every form is a plain POST answered with a redirect back (Post/Redirect/Get), so everything
works without JavaScript; a refused form re-renders with the message next to the field and
the input kept. htmx only enhances two spots: completing a task in place, and keeping the
transparency clock current while the page stays open. Who may do what: api.py's role table.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core.auth.roles import Actor
from firstword.incidents import display, forms, incident_page
from firstword.incidents import service as incidents
from firstword.incidents.api import (
    CATALOGUE_ROLES,
    COMMAND_ROLES,
    CatalogueAdmin,
    Commander,
    Reader,
)
from firstword.incidents.forms import DoneQuery, FormDep
from firstword.incidents.schemas import (
    ComponentIn,
    IncidentCreate,
    IncidentRead,
)
from firstword.incidents.vocabulary import (
    OPEN_STATES,
    ComponentStatus,
    DataCategory,
    IncidentKind,
    IncidentState,
    Severity,
)
from firstword.web.deps import ClockDep, ContextDep, SessionDep

PAGE_SIZE = 25
LIST_FILTERS: dict[str, list[IncidentState] | None] = {
    "open": [s for s in IncidentState if s in OPEN_STATES],
    "resolved": [IncidentState.RESOLVED, IncidentState.POSTMORTEM],
    "all": None,
}

router = APIRouter(include_in_schema=False)


@router.get("/assets/incidents.css")
def stylesheet(_actor: Reader) -> Response:
    """The incident pages' own styles (on top of the console's /static/console.css)."""
    return Response(
        display.STYLESHEET.read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "private, max-age=86400"},
    )


# --- the incident list ---------------------------------------------------------------------


@router.get("/incidents")
def incident_list(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    actor: Reader,
    show: Annotated[str, Query(pattern="^(open|resolved|all)$")] = "open",
    kind: Annotated[IncidentKind | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    page = incidents.list_incidents(
        session, clock=clock, states=LIST_FILTERS[show], kind=kind, limit=PAGE_SIZE, cursor=cursor
    )
    now = clock.now()
    policy = incidents.load_cadence_policy(request.app.state.context.settings.data_dir)
    rows = []
    for item in page.items:
        is_open = item.state in OPEN_STATES
        rows.append(
            {
                "item": item,
                "open": is_open,
                "age": ((item.resolved_at or now) - item.detected_at).total_seconds(),
                # Only open incidents have a cadence to keep (and there are few of them).
                "cadence": display.cadence(
                    incidents.get_incident(session, clock=clock, ref=item.ref), now, policy
                )
                if is_open
                else None,
            }
        )
    filters = {"show": show, **({"kind": kind.value} if kind else {})}
    return display.render_page(
        request,
        "incidents/list.html",
        {
            "rows": rows,
            "page": page,
            "show": show,
            "kind": kind,
            "kinds": list(IncidentKind),
            "tabs": [
                (key, key.capitalize(), f"?{urlencode({**filters, 'show': key})}")
                for key in LIST_FILTERS
            ],
            "next_url": f"?{urlencode({**filters, 'cursor': page.next_cursor})}"
            if page.next_cursor
            else None,
            "first_url": f"?{urlencode(filters)}" if cursor else None,
            "can_open": actor.has_any(set(COMMAND_ROLES)),
        },
    )


# --- opening -------------------------------------------------------------------------------


def _new_form(
    request: Request,
    session: Session,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return display.render_page(
        request,
        "incidents/new.html",
        {
            "values": values,
            "errors": errors,
            "groups": display.grouped(incidents.list_components(session)),
            "kinds": list(IncidentKind),
            "severities": list(Severity),
            "statuses": [s for s in ComponentStatus if s is not ComponentStatus.OPERATIONAL],
            "categories": list(DataCategory),
        },
        status_code,
    )


@router.get("/incidents/new")
def new_incident_form(request: Request, session: SessionDep, _actor: Commander) -> Response:
    return _new_form(request, session, values={"severity": Severity.SEV2.value}, errors={})


@router.post("/incidents/new")
def open_incident(
    request: Request, form: FormDep, session: SessionDep, context: ContextDep, actor: Commander
) -> Response:
    values: dict[str, Any] = forms.fields(
        form, "title", "kind", "severity", "summary", "customer_advice", "detected_at"
    )
    values["data_categories"] = forms.texts(form, "data_categories")
    values["components"] = forms.prefixed(form, "component.")
    opened: list[IncidentRead] = []

    def action() -> None:
        data = IncidentCreate.model_validate(
            {**values, "detected_at": forms.utc_time("detected_at", values["detected_at"])}
        )
        opened.append(
            incidents.open_incident(
                session,
                clock=context.clock,
                actor=actor,
                data=data,
                playbook_dirs=[context.settings.user_playbooks_dir],
            )
        )

    errors, status_code = forms.run(session, action)
    if errors:
        return _new_form(request, session, values=values, errors=errors, status_code=status_code)
    return forms.back(f"/console/incidents/{opened[0].ref}", "opened")


# --- the component catalogue ---------------------------------------------------------------


def _catalogue_page(
    request: Request,
    session: Session,
    context: Context,
    actor: Actor,
    *,
    done: str | None = None,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    components = incidents.list_components(session)
    return display.render_page(
        request,
        "incidents/components.html",
        {
            "groups": display.grouped(components),
            "affected": sum(1 for c in components if c.status is not ComponentStatus.OPERATIONAL),
            "can_add": actor.has_any(set(CATALOGUE_ROLES)),
            "user_file": context.settings.user_components_file,
            "flash": display.FLASH.get(done or ""),
            "values": values or {},
            "errors": errors or {},
        },
        status_code,
    )


@router.get("/components")
def component_catalogue(
    request: Request,
    session: SessionDep,
    context: ContextDep,
    actor: Reader,
    done: DoneQuery = None,
) -> Response:
    return _catalogue_page(request, session, context, actor, done=done)


@router.post("/components")
def add_component(
    request: Request, form: FormDep, session: SessionDep, context: ContextDep, actor: CatalogueAdmin
) -> Response:
    values = forms.fields(form, "key", "name", "group", "description", "position")

    def action() -> None:
        data = ComponentIn.model_validate({**values, "position": values["position"] or 0})
        incidents.add_component(session, clock=context.clock, actor=actor, data=data)

    errors, status_code = forms.run(session, action)
    if errors:
        return _catalogue_page(
            request, session, context, actor, values=values, errors=errors, status_code=status_code
        )
    return forms.back("/console/components", "component")


@router.post("/components/reload")
def reload_catalogue(
    request: Request, session: SessionDep, context: ContextDep, actor: CatalogueAdmin
) -> Response:
    def action() -> None:
        incidents.ensure_component_catalogue(
            session,
            clock=context.clock,
            actor=actor,
            user_file=context.settings.user_components_file,
        )

    errors, status_code = forms.run(session, action)
    if errors:
        message = "; ".join(f"{k}: {v}" if k != forms.FORM_ERROR else v for k, v in errors.items())
        return _catalogue_page(
            request,
            session,
            context,
            actor,
            errors={forms.FORM_ERROR: message},
            status_code=status_code,
        )
    return forms.back("/console/components", "catalogue")


# Last, so that /incidents/new above wins over /incidents/{ref}.
router.include_router(incident_page.router)

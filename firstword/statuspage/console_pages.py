"""Staff console pages for the status page (mounted at /console):

* /statuspage: what the public page says now, each active incident's update cadence,
  subscriber counts, and links to compose updates and print signs;
* /statuspage/compose/{ref}: write a public update from a template (per incident kind and
  language), preview it as the public page and a till will show it, then publish it
  through the incidents service (so the page re-renders and subscribers are told);
* /statuspage/signage/{ref}.pdf and /statuspage/till/{ref}.txt: the in-store poster and
  the till/receipt text from the latest published update (signage.py).

Plain forms with a hidden CSRF token; everything works without JavaScript. Previewing never
publishes: only the "Publish" button calls `incidents.post_update`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from firstword.context import Context
from firstword.core.auth.roles import Actor, Role
from firstword.core.clock import Clock
from firstword.core.errors import FirstwordError, InvalidInput
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentRead, UpdatePost, UpdateRead
from firstword.incidents.vocabulary import TRANSITIONS, ComponentStatus, IncidentState
from firstword.statuspage import compose, i18n, signage
from firstword.statuspage import render as public_render
from firstword.statuspage import service as statuspage
from firstword.web.deps import ClockDep, ContextDep, SessionDep, require_role
from firstword.web.templating import render

STYLESHEET = Path(__file__).resolve().parent / "static" / "console-statuspage.css"
PUBLISH_ROLES = (Role.INCIDENT_COMMANDER, Role.COMMUNICATIONS)
FORM_ERROR = "_form"
# What comms may promise instead of the cadence (minutes): the usual "next update at 08:00".
PROMISE_CHOICES = (60, 120, 240, 480, 720, 1440)

Staff = Annotated[Actor, Depends(require_role())]
Publisher = Annotated[Actor, Depends(require_role(*PUBLISH_ROLES))]
RefPath = Annotated[str, PathParam(max_length=30, description="Incident reference")]
LangQuery = Annotated[str | None, Query(pattern="^[a-z]{2}$")]
StoreQuery = Annotated[str | None, Query(max_length=40)]

router = APIRouter(include_in_schema=False)


async def _read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(_read_form)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def minutes(value: int | None) -> str:
    """12 -> "12 min", 75 -> "1 h 15 min", 3451 -> "2 d 9 h"."""
    if value is None:
        return "—"
    if value < 1:
        return "under a minute"
    hours, mins = divmod(value, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return f"{days} d {hours} h" if hours else f"{days} d"
    if not hours:
        return f"{mins} min"
    return f"{hours} h {mins} min" if mins else f"{hours} h"


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    now = context.get("now")

    def when(moment: datetime) -> str:
        """ "19:30 UTC" today, "21 Nov 07:00 UTC" on another day."""
        same_day = isinstance(now, datetime) and moment.date() == now.date()
        return moment.strftime("%H:%M UTC" if same_day else "%d %b %H:%M UTC")

    base = {
        "minutes": minutes,
        "when": when,
        "css_href": "/console/statuspage/assets/console.css",
        "languages": [(code, i18n.language_name(code)) for code in i18n.PAGE_LANGUAGES],
        "label": lambda value: str(value).replace("_", " ").capitalize(),
    }
    response: Response = render(request, name, {**base, **context}, status_code)
    return response


@router.get("/statuspage/assets/console.css")
def stylesheet(_actor: Staff) -> Response:
    return Response(
        STYLESHEET.read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "private, max-age=3600"},
    )


# --- the overview --------------------------------------------------------------------------


def subscriber_counts(session: Session, clock: Clock) -> list[tuple[str, str]] | None:
    """(label, count) rows from the subscriptions part, or None while it is not set up.
    Looked up at call time: the subscriptions module is optional."""
    try:
        module = importlib.import_module("firstword.statuspage.subscriptions")
    except ImportError:
        return None
    summary = getattr(module, "subscriber_summary", None)
    if summary is None:
        return None
    takes_clock = "clock" in inspect.signature(summary).parameters
    value: Any = summary(session, clock=clock) if takes_clock else summary(session)
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if not isinstance(value, Mapping):
        return [("subscribers", str(value))]
    rows: list[tuple[str, str]] = []
    for key, count in value.items():
        if isinstance(count, Mapping):
            count = ", ".join(f"{k}: {v}" for k, v in count.items()) or "0"
        rows.append((str(key).replace("_", " ").capitalize(), str(count)))
    return rows


def _stores(context: Context) -> list[Any]:
    try:
        stores = importlib.import_module("firstword.statuspage.stores")
    except ImportError:
        return []
    return list(stores.cached_stores(context.settings.data_dir))


@router.get("/statuspage")
def overview(
    request: Request, session: SessionDep, clock: ClockDep, context: ContextDep, actor: Staff
) -> Response:
    settings = context.settings
    view = statuspage.build_view(session, clock=clock, settings=settings)
    policy = incidents.load_cadence_policy(settings.data_dir)
    active = [
        {
            "view": item,
            "cadence": incidents.cadence_status(session, clock=clock, ref=item.ref, policy=policy),
            "has_update": bool(item.updates),
        }
        for item in view.incidents
    ]
    return _page(
        request,
        "statuspage/console_overview.html",
        {
            "view": view,
            "active": active,
            "now": clock.now(),
            "subscribers": subscriber_counts(session, clock),
            "stores": _stores(context),
            "can_publish": actor.has_any(set(PUBLISH_ROLES)),
            "public_url": settings.public_base_url.rstrip("/") + "/",
            "cadence_problem": policy.problem,
        },
    )


# --- compose, preview, publish -------------------------------------------------------------


def _language(lang: str | None) -> str:
    if lang is None:
        return i18n.DEFAULT_LANGUAGE
    if lang not in i18n.LANGUAGES:
        raise InvalidInput("lang", f"unknown language {lang!r}; known: {', '.join(i18n.LANGUAGES)}")
    return lang


def _draft_incident(
    incident: IncidentRead,
    *,
    body: str,
    state: IncidentState | None,
    statuses: dict[str, str],
    clock: Clock,
    actor: Actor,
) -> IncidentRead:
    """The incident as it would read right after publishing this draft (for previews)."""
    components = [
        c.model_copy(update={"status": ComponentStatus(statuses.get(c.key, c.status))})
        for c in incident.components
    ]
    new_state = state or incident.state
    draft = UpdateRead(
        id=0,
        state=new_state,
        body=body,
        posted_at=clock.now(),
        posted_by=actor.label,
        component_statuses={c.key: c.status.value for c in components},
    )
    return incident.model_copy(
        update={"components": components, "state": new_state, "updates": [draft, *incident.updates]}
    )


def _compose_page(
    request: Request,
    session: Session,
    clock: Clock,
    context: Context,
    actor: Actor,
    ref: str,
    *,
    lang: str,
    template_key: str | None,
    body: str | None = None,
    state: str | None = None,
    statuses: dict[str, str] | None = None,
    promise: int | None = None,
    preview: bool = False,
    errors: dict[str, str] | None = None,
    published: bool = False,
    status_code: int = 200,
) -> Response:
    settings = context.settings
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    library = compose.load_templates(settings.data_dir)
    choices = library.for_kind(incident.kind)
    policy = incidents.load_cadence_policy(settings.data_dir)
    chosen = library.get(incident.kind, template_key) if template_key else None
    if body is None:
        body = (
            compose.draft(
                incident, chosen, lang=lang, now=clock.now(), settings=settings, policy=policy
            )
            if chosen is not None
            else ""
        )
    allowed = TRANSITIONS[incident.state]
    if state is None:
        state = chosen.state.value if chosen and chosen.state in allowed else ""
    statuses = statuses or {}
    context_vars: dict[str, Any] = {
        "inc": incident,
        "lang": lang,
        "templates": choices,
        "chosen": chosen,
        "template_problems": library.problems,
        "body": body,
        "state": state,
        "next_states": [s for s in IncidentState if s in allowed],
        "component_statuses": list(ComponentStatus),
        "chosen_statuses": statuses,
        "errors": errors or {},
        "published": published,
        "cadence": incidents.cadence_status(session, clock=clock, ref=ref, policy=policy),
        "next_due": compose.next_update_after_publishing(
            incident, now=clock.now(), policy=policy, promise_minutes=promise
        ),
        "promise": promise,
        "promise_choices": PROMISE_CHOICES,
        "now": clock.now(),
        "stores": _stores(context),
        "preview": None,
    }
    if preview and body.strip() and not errors:
        future = _draft_incident(
            incident,
            body=body,
            state=IncidentState(state) if state else None,
            statuses=statuses,
            clock=clock,
            actor=actor,
        )
        catalogue = incidents.list_components(session)
        notice = signage.build_notice(future, catalogue=catalogue, settings=settings, lang=lang)
        gettext = i18n.translations(lang).gettext
        context_vars["preview"] = {
            "incident": future,
            "draft": future.updates[0],
            "posted": i18n.format_when(clock.now(), lang),
            "next_update": compose.when_text(context_vars["next_due"], lang, now=clock.now())
            if future.state not in (IncidentState.RESOLVED, IncidentState.POSTMORTEM)
            else "",
            "till": signage.till_text(notice),
            "words": {
                "advice": gettext("What you can do"),
                "next": gettext("Next update by %(time)s"),
                "state": _public_state(future.state, lang),
            },
        }
    return _page(request, "statuspage/console_compose.html", context_vars, status_code)


def _public_state(state: IncidentState, lang: str) -> str:
    """The state as the public page words it (its labels are in render.py)."""
    labels: Mapping[str, str] = getattr(public_render, "STATE_LABELS", {})
    return i18n.translations(lang).gettext(labels.get(state.value, state.value.capitalize()))


@router.get("/statuspage/compose/{ref}")
def compose_page(
    request: Request,
    ref: RefPath,
    session: SessionDep,
    clock: ClockDep,
    context: ContextDep,
    actor: Publisher,
    template: Annotated[str | None, Query(max_length=60)] = None,
    lang: LangQuery = None,
    published: Annotated[bool, Query()] = False,
) -> Response:
    return _compose_page(
        request,
        session,
        clock,
        context,
        actor,
        ref,
        lang=_language(lang),
        template_key=template or None,
        published=published,
    )


@router.post("/statuspage/compose/{ref}")
def compose_post(
    request: Request,
    ref: RefPath,
    form: FormDep,
    session: SessionDep,
    clock: ClockDep,
    context: ContextDep,
    actor: Publisher,
) -> Response:
    """`action=preview` re-renders the page with the preview (nothing is stored);
    `action=publish` posts the update and redirects (Post/Redirect/Get)."""
    action = _text(form, "action")
    lang = _language(_text(form, "lang") or None)
    body = _text(form, "body")
    state = _text(form, "state")
    statuses = {
        name.removeprefix("component."): value
        for name, value in form.multi_items()
        if name.startswith("component.")
        and isinstance(value, str)
        and value
        and value != _text(form, "was." + name.removeprefix("component."))
    }
    errors: dict[str, str] = {}
    promise_text = _text(form, "next_update_in_minutes")
    promise = int(promise_text) if promise_text.isdigit() else None
    try:
        data = UpdatePost.model_validate(
            {
                "body": body,
                "state": state or None,
                "components": statuses,
                "next_update_in_minutes": promise_text or None,
            }
        )
    except ValidationError as exc:
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else FORM_ERROR
            errors.setdefault(field, str(err["msg"]))
        data = None
    if action not in ("preview", "publish"):
        errors.setdefault(FORM_ERROR, "choose Preview or Publish")
    if action == "publish" and data is not None and not errors:
        try:
            with session.begin_nested():
                incidents.post_update(session, clock=clock, actor=actor, ref=ref, data=data)
        except InvalidInput as exc:
            field = exc.field.partition(".")[0]
            errors[field] = exc.reason
        except FirstwordError as exc:
            if exc.status_code == 404:
                raise
            errors[FORM_ERROR] = exc.message
        else:
            return RedirectResponse(
                f"/console/statuspage/compose/{ref}?published=1&lang={lang}", status_code=303
            )
    return _compose_page(
        request,
        session,
        clock,
        context,
        actor,
        ref,
        lang=lang,
        template_key=_text(form, "template") or None,
        body=body,
        state=state,
        statuses=statuses,
        promise=promise,
        preview=action == "preview",
        errors=errors,
        status_code=422 if errors else 200,
    )


# --- signs and till texts ------------------------------------------------------------------


def _notice(
    session: Session, clock: Clock, context: Context, ref: str, lang: str | None, store: str | None
) -> signage.Notice:
    settings = context.settings
    chosen_store = signage.load_store(settings.data_dir, store) if store else None
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    return signage.build_notice(
        incident,
        catalogue=incidents.list_components(session),
        settings=settings,
        lang=lang,
        store=chosen_store,
    )


@router.get("/statuspage/signage/{ref}.pdf")
def signage_pdf(
    ref: RefPath,
    session: SessionDep,
    clock: ClockDep,
    context: ContextDep,
    _actor: Staff,
    lang: LangQuery = None,
    store: StoreQuery = None,
) -> Response:
    """The A4 poster for the shop door and till point, from the latest published update."""
    notice = _notice(session, clock, context, ref, lang, store)
    settings = context.settings
    pdf = signage.sign_pdf(
        notice, brand_color=settings.brand_primary_color, logo=settings.brand_logo_url
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{notice.ref}-{notice.lang}.pdf"'},
    )


@router.get("/statuspage/till/{ref}.txt")
def till_txt(
    ref: RefPath,
    session: SessionDep,
    clock: ClockDep,
    context: ContextDep,
    _actor: Staff,
    lang: LangQuery = None,
    store: StoreQuery = None,
) -> Response:
    """At most 4 lines of 40 characters for tills and receipts."""
    notice = _notice(session, clock, context, ref, lang, store)
    return Response(
        signage.till_text(notice),
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{notice.ref}-{notice.lang}.txt"'},
    )

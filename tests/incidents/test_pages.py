"""The console's incident pages (/console): each page renders, forms post and redirect back
(Post/Redirect/Get), refused forms re-render with the message and the input kept, CSRF is
required, and hostile text is escaped. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor, system_actor
from firstword.core.clock import FrozenClock
from firstword.incidents import service as incidents
from firstword.incidents.schemas import NoteAdd, RoleAssign, StateChange, UpdatePost
from tests.factories import PASSWORD, ensure_catalogue, make_incident, make_user

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class Console:
    """A signed-in browser session: the session cookie is set on the client and every form
    post carries the session's CSRF token (unless told not to)."""

    def __init__(self, client: Any, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        return self.client.post(path, data=form, follow_redirects=False, **kwargs)


@pytest.fixture
def sign_in(client: Any, session: Session, clock: FrozenClock) -> Callable[..., Console]:
    def make(*roles: str) -> Console:
        user = make_user(session, clock, roles=roles or ("incident_commander",))
        signed = auth.sign_in(session, clock=clock, email=user.email, password=PASSWORD, hours=12)
        client.cookies.clear()
        client.cookies.set("fw_session", signed.cookie_value)
        return Console(client, signed.csrf_token)

    return make


@pytest.fixture
def console(sign_in: Callable[..., Console], session: Session, clock: FrozenClock) -> Console:
    ensure_catalogue(session, clock)
    return sign_in("incident_commander")


def _page(response: Any, status: int = 200) -> str:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    text: str = response.text
    return text


def _redirected(response: Any, path: str) -> str:
    assert response.status_code == 303, response.text[:2000]
    location: str = response.headers["location"]
    assert location.startswith(path), location
    return location


def test_pages_need_a_session(client: Any) -> None:
    for path in (
        "/console/incidents",
        "/console/incidents/new",
        "/console/incidents/INC-2026-0001",
        "/console/components",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/login?next=")


def test_list_page_filters_badges_and_cadence(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    quiet = make_incident(
        session, clock, title="Stores in Germany cannot take contactless", severity="SEV1"
    )
    told = make_incident(session, clock, title="Click and collect delayed", kind="outage")
    clock.advance(timedelta(minutes=40))
    incidents.post_update(
        session, clock=clock, actor=_system(), ref=told.ref, data=_update("We are on it.")
    )
    old = make_incident(session, clock, title="Loyalty points missing", kind="third_party_breach")
    incidents.change_state(
        session, clock=clock, actor=_system(), ref=old.ref, data=_state("resolved")
    )

    html = _page(console.get("/console/incidents"))
    assert quiet.ref in html and told.ref in html and old.ref not in html
    assert "sev--sev1" in html and "state--investigating" in html
    stale_row = _row(html, quiet.ref)
    assert "incident-table__row--stale" in stale_row and "none yet" in stale_row
    fresh_row = _row(html, told.ref)
    assert "incident-table__row--stale" not in fresh_row and "0m ago" in fresh_row
    assert "Open an incident" in html

    resolved = _page(console.get("/console/incidents?show=resolved"))
    assert old.ref in resolved and quiet.ref not in resolved
    assert "lasted" in resolved
    by_kind = _page(console.get("/console/incidents?show=all&kind=third_party_breach"))
    assert old.ref in by_kind and told.ref not in by_kind
    assert console.get("/console/incidents?show=everything").status_code == 422


def test_list_page_paginates(console: Console, session: Session, clock: FrozenClock) -> None:
    refs = [make_incident(session, clock).ref for _ in range(27)]
    first = _page(console.get("/console/incidents"))
    assert refs[-1] in first and refs[1] not in first
    assert "27 incidents" in first
    next_url = re.search(
        r'href="(\?[^"]*cursor=[^"]+)" class="button button--small" rel="next"', first
    )
    assert next_url, "an 'Older' link"
    second = _page(console.get("/console/incidents" + next_url.group(1).replace("&amp;", "&")))
    assert refs[0] in second and refs[1] in second and refs[-1] not in second
    assert "← Newest" in second


def test_open_incident_through_the_form(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    form_html = _page(console.get("/console/incidents/new"))
    assert 'name="csrf_token"' in form_html and console.csrf in form_html
    assert 'name="component.online-checkout"' in form_html
    assert 'value="payment_card_number"' in form_html

    response = console.post(
        "/console/incidents/new",
        {
            "title": "Card payments failing in UK stores",
            "kind": "payment_disruption",
            "severity": "SEV1",
            "summary": "Terminals time out.",
            "customer_advice": "Use cash.",
            "component.card-payments": "major_outage",
            "component.stores-uk": "partial_outage",
            "component.website": "",
            "data_categories": ["payment_card_number", "name"],
            "detected_at": "2026-11-20T08:45",
        },
    )
    location = _redirected(response, "/console/incidents/INC-2026-")
    assert location.endswith("?done=opened")
    ref = location.split("/")[-1].split("?")[0]
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    assert incident.severity == "SEV1"
    assert {c.key: c.status for c in incident.components} == {
        "card-payments": "major_outage",
        "stores-uk": "partial_outage",
    }
    assert incident.data_categories == ["name", "payment_card_number"]
    assert incident.detected_at.isoformat() == "2026-11-20T08:45:00+00:00"

    html = _page(console.get(location))
    assert "Incident opened." in html
    assert "Card payments failing in UK stores" in html


def test_open_form_errors_keep_the_input(console: Console) -> None:
    response = console.post(
        "/console/incidents/new",
        {
            "title": "x" * 201,
            "kind": "outage",
            "severity": "SEV2",
            "summary": "Keep this summary",
            "component.website": "major_outage",
            "data_categories": ["email"],
        },
    )
    html = _page(response, 422)
    assert 'id="title-error"' in html and "200 characters" in html
    assert 'aria-invalid="true"' in html
    assert "Keep this summary" in html
    assert re.search(r'value="major_outage" selected', html), "component choice kept"
    assert re.search(r'value="email" checked', html), "data category kept"

    html = _page(
        console.post(
            "/console/incidents/new",
            {
                "title": "Fine title",
                "kind": "outage",
                "severity": "SEV2",
                "component.teleporter": "major_outage",
            },
        ),
        422,
    )
    assert "teleporter: unknown component" in html

    html = _page(
        console.post(
            "/console/incidents/new",
            {
                "title": "Fine title",
                "kind": "outage",
                "severity": "SEV2",
                "detected_at": "yesterday-ish",
            },
        ),
        422,
    )
    assert 'id="detected_at-error"' in html

    html = _page(
        console.post(
            "/console/incidents/new",
            {
                "title": "Fine title",
                "kind": "outage",
                "severity": "SEV2",
                "detected_at": "2027-01-01T00:00",
            },
        ),
        422,
    )
    assert "in the future" in html

    assert "INC-2026" not in _page(console.get("/console/incidents?show=all"))


def test_duplicate_opening_re_renders_with_the_conflict(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    existing = make_incident(session, clock, title="Website down")
    html = _page(
        console.post(
            "/console/incidents/new",
            {"title": "Website down", "kind": "outage", "severity": "SEV2"},
        ),
        409,
    )
    assert existing.ref in html and "already open" in html


def test_incident_page_shows_everything(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    incident = make_incident(
        session,
        clock,
        title="Customer data exposed",
        kind=("customer_data_breach"),
        severity="SEV1",
        components={"account-sign-in": "major_outage"},
        data_categories=["email", "date_of_birth"],
        summary="An export was left public.",
    )
    person = make_user(session, clock, roles=["legal"], name="Lena Legal")
    actor = _system()
    incidents.assign_role(
        session,
        clock=clock,
        actor=actor,
        ref=incident.ref,
        data=RoleAssign.model_validate({"role": "legal", "user_id": person.id}),
    )
    incidents.add_note(
        session,
        clock=clock,
        actor=actor,
        ref=incident.ref,
        data=NoteAdd(body="DPO informed by phone"),
    )
    clock.advance(timedelta(minutes=75))

    html = _page(console.get(f"/console/incidents/{incident.ref}"))
    for expected in (
        incident.ref,
        "Customer data exposed",
        "sev--sev1",
        "state--investigating",
        "Customer data breach",
        "Since last public update",
        "None yet",
        "Customers have heard nothing",
        "clock--stale",
        "Account sign-in",
        "status--major-outage",
        "E-mail",
        "Date of birth",
        "Lena Legal",
        "DPO informed by phone",
        "An export was left public.",
        "Timeline",
        "Opened",
        "Publish update",
        'hx-get="/console/incidents/',
    ):
        assert expected in html, expected
    assert incident.tasks and incident.tasks[0].title in html
    assert html.count('name="csrf_token"') >= 8
    assert "overdue by 15m" in html, "the breach playbook has a task due an hour after detection"

    panel = _page(console.get(f"/console/incidents/{incident.ref}/clock-panel"))
    assert panel.lstrip().startswith("<section") and "<html" not in panel
    assert "Since last public update" in panel

    assert console.get("/console/incidents/INC-2026-9999").status_code == 404


def test_forms_post_and_redirect_back(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    ref = make_incident(session, clock, components={"website": "partial_outage"}).ref
    base = f"/console/incidents/{ref}"
    person = make_user(session, clock, roles=["communications"], name="Cora Comms")

    steps: list[tuple[str, dict[str, Any], str]] = [
        (
            "updates",
            {
                "body": "We are investigating slow pages.",
                "state": "identified",
                "component.website": "major_outage",
                "was.website": "partial_outage",
            },
            "update",
        ),
        (
            "components",
            {
                "component.website": "major_outage",
                "was.website": "major_outage",
                "add_component": "mobile-app",
                "add_status": "degraded_performance",
            },
            "components",
        ),
        ("state", {"state": "monitoring", "note": "Fix deployed"}, "state"),
        ("data-categories", {"category": ["email"]}, "data"),
        ("roles", {"role": "communications", "user_id": str(person.id)}, "role"),
        (
            "tasks",
            {
                "title": "Brief the call centre",
                "owner_role": "customer_service",
                "due_at": "2026-11-20T10:00",
            },
            "task",
        ),
        ("notes", {"body": "CDN vendor confirmed the fault"}, "note"),
        ("clock", {"event": "contained", "at": ""}, "clock"),
        (
            "edit",
            {
                "title": "Website slow and failing",
                "severity": "SEV1",
                "summary": "CDN",
                "customer_advice": "",
                "expected_version": "9",
            },
            "edit",
        ),
    ]
    for path, data, done in steps:
        if path == "edit":
            data["expected_version"] = str(
                incidents.get_incident(session, clock=clock, ref=ref).version
            )
        location = _redirected(console.post(f"{base}/{path}", data), base)
        assert f"?done={done}" in location, (path, location)

    incident = incidents.get_incident(session, clock=clock, ref=ref)
    assert incident.title == "Website slow and failing" and incident.severity == "SEV1"
    assert incident.state == "monitoring"
    assert incident.updates[0].body == "We are investigating slow pages."
    assert {c.key: c.status for c in incident.components} == {
        "website": "major_outage",
        "mobile-app": "degraded_performance",
    }
    assert incident.data_categories == ["email"]
    assert [(r.role, r.user_name) for r in incident.roles] == [("communications", "Cora Comms")]
    assert 'aria-label="Remove Cora Comms as Communications"' in _page(console.get(base))
    task = next(t for t in incident.tasks if t.title == "Brief the call centre")
    assert task.due_at is not None and task.due_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert incident.notes[-1].body == "CDN vendor confirmed the fault"
    assert incident.clock.contained_at == clock.now()

    location = _redirected(console.post(f"{base}/tasks/{task.id}/complete"), base)
    assert "done=task_done" in location
    html = _page(console.get(location))
    assert "Task completed." in html and "task--done" in html

    removal = {"role": "communications", "user_id": str(person.id)}
    _redirected(console.post(f"{base}/roles/remove", removal), f"{base}?done=role_removed")
    assert incidents.get_incident(session, clock=clock, ref=ref).roles == []
    html = _page(console.post(f"{base}/roles/remove", removal), 404)
    assert "is not communications" in html

    # Unchecking a category removes it; the form diffs against what it showed.
    _redirected(console.post(f"{base}/data-categories", {"shown": ["email"]}), base)
    assert incidents.get_incident(session, clock=clock, ref=ref).data_categories == []


def test_refused_forms_re_render_with_the_error(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    ref = make_incident(session, clock).ref
    base = f"/console/incidents/{ref}"

    html = _page(console.post(f"{base}/state", {"state": "postmortem", "note": "skip ahead"}), 422)
    assert 'id="state-state-error"' in html and "cannot move from investigating" in html
    assert 'value="skip ahead"' in html

    html = _page(console.post(f"{base}/updates", {"body": "   "}), 422)
    assert 'id="update-body-error"' in html

    html = _page(
        console.post(
            f"{base}/components", {"add_component": "teleporter", "add_status": "major_outage"}
        ),
        422,
    )
    assert "teleporter: unknown component" in html

    html = _page(
        console.post(
            f"{base}/edit",
            {
                "title": "New title",
                "severity": "SEV2",
                "summary": "",
                "customer_advice": "",
                "expected_version": "99",
            },
        ),
        409,
    )
    assert "changed meanwhile" in html

    html = _page(console.post(f"{base}/tasks/999999/complete"), 404)
    assert "999999" in html

    incident = incidents.get_incident(session, clock=clock, ref=ref)
    assert incident.state == "investigating" and incident.updates == []
    assert incident.title != "New title" and incident.components == []

    assert (
        console.post("/console/incidents/INC-2026-9999/notes", {"body": "hello"}).status_code == 404
    )


def test_forms_without_csrf_token_are_refused(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    ref = make_incident(session, clock).ref
    for path, data in [
        (f"/console/incidents/{ref}/notes", {"body": "sneaky"}),
        (f"/console/incidents/{ref}/updates", {"body": "sneaky"}),
        (
            "/console/incidents/new",
            {"title": "Sneaky incident", "kind": "outage", "severity": "SEV1"},
        ),
    ]:
        assert console.post(path, data, csrf=False).status_code == 403
        bad = {**data, "csrf_token": "not-the-token"}
        assert console.post(path, bad, csrf=False).status_code == 403
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    assert incident.notes == [] and incident.updates == []


def test_hostile_input_is_escaped(console: Console, session: Session) -> None:
    response = console.post(
        "/console/incidents/new",
        {
            "title": f"Checkout down {SCRIPT}",
            "kind": "outage",
            "severity": "SEV2",
            "summary": f'"><img src=x onerror=alert(2)> {SCRIPT}',
        },
    )
    location = _redirected(response, "/console/incidents/INC-")
    ref = location.split("/")[-1].split("?")[0]
    _redirected(
        console.post(f"/console/incidents/{ref}/updates", {"body": f"Update {SCRIPT}"}),
        "/console/incidents/",
    )
    _redirected(
        console.post(f"/console/incidents/{ref}/notes", {"body": f"Note {SCRIPT}"}),
        "/console/incidents/",
    )
    pages = [
        _page(console.get(f"/console/incidents/{ref}")),
        _page(console.get("/console/incidents")),
    ]
    for html in pages:
        assert SCRIPT not in html
        assert "<img src=x" not in html
        assert ESCAPED in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in pages[0]
    # Refused input is echoed back escaped too.
    html = _page(
        console.post(
            "/console/incidents/new",
            {"title": SCRIPT + "x" * 200, "kind": "outage", "severity": "SEV2"},
        ),
        422,
    )
    assert SCRIPT not in html and ESCAPED in html


def test_viewer_and_role_limited_pages(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    ensure_catalogue(session, clock)
    ref = make_incident(session, clock, components={"website": "major_outage"}).ref
    viewer = sign_in("viewer")
    html = _page(viewer.get(f"/console/incidents/{ref}"))
    assert "Publish update" not in html and "Change state" not in html
    assert "Add note" not in html and ">Done<" not in html
    assert "Open an incident" not in _page(viewer.get("/console/incidents"))
    assert viewer.get("/console/incidents/new").status_code == 403
    assert viewer.post(f"/console/incidents/{ref}/notes", {"body": "hi"}).status_code == 403

    comms = sign_in("communications")
    html = _page(comms.get(f"/console/incidents/{ref}"))
    assert "Publish update" in html and "Change state" not in html
    assert comms.post(f"/console/incidents/{ref}/state", {"state": "identified"}).status_code == 403
    _redirected(
        comms.post(f"/console/incidents/{ref}/updates", {"body": "Still on it"}),
        f"/console/incidents/{ref}",
    )


def test_task_completion_with_htmx_returns_the_panel(
    console: Console, session: Session, clock: FrozenClock
) -> None:
    incident = make_incident(session, clock)
    task = incident.tasks[0]
    response = console.post(
        f"/console/incidents/{incident.ref}/tasks/{task.id}/complete",
        headers={"HX-Request": "true"},
    )
    html = _page(response)
    assert html.lstrip().startswith('<section id="tasks"') and "<html" not in html
    assert "Task completed." in html and "task--done" in html
    again = _page(
        console.post(
            f"/console/incidents/{incident.ref}/tasks/{task.id}/complete",
            headers={"HX-Request": "true"},
        )
    )
    assert "already done" in again


def test_component_catalogue_page(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    viewer = sign_in("viewer")
    html = _page(viewer.get("/console/components"))
    assert "catalogue is empty" in html and "Load the catalogue files" not in html

    admin = sign_in("admin")
    _redirected(admin.post("/console/components/reload"), "/console/components?done=catalogue")
    make_incident(session, clock, components={"stores-de": "major_outage"})
    html = _page(admin.get("/console/components"))
    assert "Stores in Germany" in html or "stores-de" in html
    assert "1 affected by open incidents" in html and "status--major-outage" in html

    response = admin.post(
        "/console/components",
        {
            "key": "stores-ie",
            "name": f"Ireland {SCRIPT}",
            "group": "Stores",
            "description": "",
            "position": "",
        },
    )
    _redirected(response, "/console/components?done=component")
    html = _page(admin.get("/console/components?done=component"))
    assert "Component added" in html and ESCAPED in html and SCRIPT not in html

    html = _page(
        admin.post("/console/components", {"key": "Bad Key!", "name": "x", "group": "Stores"}), 422
    )
    assert 'id="c-key-error"' in html and 'value="Bad Key!"' in html

    commander = sign_in("incident_commander")
    assert (
        commander.post("/console/components", {"key": "k", "name": "n", "group": "g"}).status_code
        == 403
    )


def test_stylesheet_is_served_to_staff(console: Console) -> None:
    html = _page(console.get("/console/incidents"))
    href = re.search(r'href="(/console/assets/incidents\.css\?v=[0-9a-f]+)"', html)
    assert href
    response = console.get(href.group(1))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert ".clock__value" in response.text


# --- helpers ---------------------------------------------------------------------------------


def _system() -> Actor:
    return system_actor("tests")


def _update(body: str) -> UpdatePost:
    return UpdatePost(body=body)


def _state(state: str) -> StateChange:
    return StateChange.model_validate({"state": state})


def _row(html: str, ref: str) -> str:
    match = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(ref) + r".*?</tr>", html, re.S)
    assert match, ref
    return match.group(0)

"""The incidents REST API (/api/v1): the whole flow, pagination, errors naming the field,
and who may do what. Runs on SQLite and PostgreSQL (the `client` fixture)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from tests.factories import ensure_catalogue, make_incident, make_user

API = "/api/v1"
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'

Headers = dict[str, str]


@pytest.fixture
def bearer(session: Session, clock: FrozenClock) -> Callable[..., Headers]:
    """Headers carrying a fresh token for a new user holding `roles`."""

    def make(*roles: str) -> Headers:
        user = make_user(session, clock, roles=roles)
        issued = auth.issue_token(
            session,
            clock=clock,
            actor=system_actor("tests"),
            user_id=user.id,
            name="tests",
            scopes=list(roles),
        )
        return {"Authorization": f"Bearer {issued.token}"}

    return make


@pytest.fixture
def commander(bearer: Callable[..., Headers]) -> Headers:
    return bearer("incident_commander")


@pytest.fixture
def catalogue(session: Session, clock: FrozenClock) -> None:
    ensure_catalogue(session, clock)


def _open(client: Any, headers: Headers, **fields: Any) -> dict[str, Any]:
    body = {"title": "Online checkout failing", "kind": "outage", "severity": "SEV2", **fields}
    response = client.post(f"{API}/incidents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_full_flow_open_update_state_components_tasks_timeline(
    client: Any, commander: Headers, catalogue: None, clock: FrozenClock
) -> None:
    response = client.post(
        f"{API}/incidents",
        headers=commander,
        json={
            "title": "Online checkout failing for card payments",
            "kind": "outage",
            "severity": "SEV1",
            "summary": "Card payments at checkout time out.",
            "components": {"online-checkout": "major_outage"},
            "data_categories": [],
        },
    )
    assert response.status_code == 201, response.text
    incident = response.json()
    ref = incident["ref"]
    assert ref == "INC-2026-0001"
    assert response.headers["location"] == f"{API}/incidents/{ref}"
    assert incident["state"] == "investigating"
    assert incident["components"] == [
        {
            "key": "online-checkout",
            "name": incident["components"][0]["name"],
            "group": incident["components"][0]["group"],
            "status": "major_outage",
        }
    ]
    assert incident["playbook"] == "online-ordering-outage"
    assert incident["tasks"], "the outage playbook should have created tasks"
    assert incident["clock"]["acknowledged_at"] is None

    clock.advance(timedelta(minutes=12))
    response = client.post(
        f"{API}/incidents/{ref}/updates",
        headers=commander,
        json={
            "body": "We are investigating failed card payments at checkout.",
            "state": "identified",
        },
    )
    assert response.status_code == 201, response.text
    incident = response.json()
    assert incident["state"] == "identified"
    assert incident["updates"][0]["body"].startswith("We are investigating")
    assert incident["clock"]["time_to_acknowledge_seconds"] == 12 * 60

    clock.advance(timedelta(minutes=5))
    response = client.post(
        f"{API}/incidents/{ref}/components",
        headers=commander,
        json={
            "components": {"online-checkout": "degraded_performance", "website": "partial_outage"}
        },
    )
    assert response.status_code == 200, response.text
    statuses = {c["key"]: c["status"] for c in response.json()["components"]}
    assert statuses == {"online-checkout": "degraded_performance", "website": "partial_outage"}

    catalogue_now = {
        c["key"]: c["status"] for c in client.get(f"{API}/components", headers=commander).json()
    }
    assert catalogue_now["website"] == "partial_outage"

    response = client.post(
        f"{API}/incidents/{ref}/tasks",
        headers=commander,
        json={
            "title": "Call the payment processor",
            "owner_role": "incident_commander",
            "due_at": (clock.now() + timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    task = next(t for t in response.json()["tasks"] if t["title"] == "Call the payment processor")
    response = client.post(f"{API}/incidents/{ref}/tasks/{task['id']}/complete", headers=commander)
    assert response.status_code == 200, response.text
    done = next(t for t in response.json()["tasks"] if t["id"] == task["id"])
    assert done["done_at"] is not None and done["done_by"].startswith("token:")

    response = client.post(
        f"{API}/incidents/{ref}/clock", headers=commander, json={"event": "contained"}
    )
    assert response.status_code == 200, response.text
    response = client.post(
        f"{API}/incidents/{ref}/state",
        headers=commander,
        json={"state": "resolved", "note": "Processor fixed"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["resolved_at"] is not None

    clock_body = client.get(f"{API}/incidents/{ref}/clock", headers=commander).json()
    assert clock_body["contained_at"] is not None
    assert clock_body["time_since_detection_seconds"] == 17 * 60

    timeline = client.get(f"{API}/incidents/{ref}/timeline", headers=commander).json()
    kinds = [e["kind"] for e in timeline]
    for expected in (
        "opened",
        "public_update",
        "state_changed",
        "components_changed",
        "task_added",
        "task_done",
        "clock_marked",
    ):
        assert expected in kinds, kinds
    assert kinds[0] == "opened"
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    state_entries = [e for e in timeline if e["kind"] == "state_changed"]
    assert state_entries[-1]["before"]["state"] == "identified"
    assert state_entries[-1]["after"]["state"] == "resolved"
    assert all(e["actor"].startswith("token:") for e in timeline)


def test_pagination_and_filters(
    client: Any, session: Session, clock: FrozenClock, commander: Headers
) -> None:
    refs = [make_incident(session, clock).ref for _ in range(5)]
    payment = make_incident(session, clock, kind="payment_disruption").ref
    refs.append(payment)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(f"{API}/incidents", params=params, headers=commander).json()
        assert body["total"] == 6
        seen += [i["ref"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(refs)), "newest first, each incident exactly once"

    by_kind = client.get(
        f"{API}/incidents", params={"kind": "payment_disruption"}, headers=commander
    ).json()
    assert [i["ref"] for i in by_kind["items"]] == [payment]

    resolved = client.post(
        f"{API}/incidents/{refs[0]}/state", headers=commander, json={"state": "resolved"}
    )
    assert resolved.status_code == 200
    only_resolved = client.get(f"{API}/incidents?state=resolved", headers=commander).json()
    assert [i["ref"] for i in only_resolved["items"]] == [refs[0]]
    open_ones = client.get(
        f"{API}/incidents?state=investigating&state=identified", headers=commander
    ).json()
    assert open_ones["total"] == 5 and refs[0] not in [i["ref"] for i in open_ones["items"]]

    assert _error(client.get(f"{API}/incidents?limit=0", headers=commander), 422)["field"] == (
        "query.limit"
    )
    assert _error(client.get(f"{API}/incidents?limit=201", headers=commander), 422)["field"] == (
        "query.limit"
    )
    assert _error(client.get(f"{API}/incidents?state=sleeping", headers=commander), 422)[
        "field"
    ].startswith("query.state")
    assert (
        _error(client.get(f"{API}/incidents?cursor=not-a-cursor", headers=commander), 422)["field"]
        == "cursor"
    )


def test_unknown_ref_is_404(client: Any, commander: Headers) -> None:
    for method, path in [
        ("get", "/incidents/INC-2026-9999"),
        ("get", "/incidents/INC-2026-9999/timeline"),
        ("get", "/incidents/INC-2026-9999/clock"),
        ("post", "/incidents/INC-2026-9999/notes"),
    ]:
        kwargs = {"json": {"body": "x"}} if method == "post" else {}
        error = _error(getattr(client, method)(f"{API}{path}", headers=commander, **kwargs), 404)
        assert "INC-2026-9999" in error["message"]


def test_duplicate_opening_is_409_and_stores_nothing(client: Any, commander: Headers) -> None:
    first = _open(client, commander, title="Stores in Germany cannot take cards")
    error = _error(
        client.post(
            f"{API}/incidents",
            headers=commander,
            json={
                "title": "  stores in germany   cannot take cards ",
                "kind": "outage",
                "severity": "SEV1",
            },
        ),
        409,
    )
    assert first["ref"] in error["message"]
    assert client.get(f"{API}/incidents", headers=commander).json()["total"] == 1


def test_unknown_component_names_the_field(
    client: Any, commander: Headers, catalogue: None
) -> None:
    error = _error(
        client.post(
            f"{API}/incidents",
            headers=commander,
            json={
                "title": "Lost in the catalogue",
                "kind": "outage",
                "severity": "SEV3",
                "components": {"teleporter": "major_outage"},
            },
        ),
        422,
    )
    assert error["field"] == "components.teleporter"
    assert "unknown component" in error["message"]
    assert client.get(f"{API}/incidents", headers=commander).json()["total"] == 0

    ref = _open(client, commander)["ref"]
    error = _error(
        client.post(
            f"{API}/incidents/{ref}/components",
            headers=commander,
            json={"components": {"website": "major_outage", "teleporter": "major_outage"}},
        ),
        422,
    )
    assert error["field"] == "components.teleporter"
    incident = client.get(f"{API}/incidents/{ref}", headers=commander).json()
    assert incident["components"] == [], "a refused change stores nothing, not even website"

    error = _error(
        client.post(
            f"{API}/incidents/{ref}/components",
            headers=commander,
            json={"components": {"website": "on_fire"}},
        ),
        422,
    )
    assert error["field"] == "components.website"


def test_over_long_title_and_unknown_fields_name_the_field(client: Any, commander: Headers) -> None:
    error = _error(
        client.post(
            f"{API}/incidents",
            headers=commander,
            json={"title": "x" * 201, "kind": "outage", "severity": "SEV2"},
        ),
        422,
    )
    assert error["field"] == "title"
    assert "200" in error["message"]

    error = _error(
        client.post(
            f"{API}/incidents",
            headers=commander,
            json={"title": "Fine title", "kind": "outage", "severity": "SEV9"},
        ),
        422,
    )
    assert error["field"] == "severity"

    error = _error(
        client.post(
            f"{API}/incidents",
            headers=commander,
            json={"title": "Fine title", "kind": "outage", "severity": "SEV2", "owner": "me"},
        ),
        422,
    )
    assert error["field"] == "owner"

    ref = _open(client, commander)["ref"]
    error = _error(
        client.patch(f"{API}/incidents/{ref}", headers=commander, json={"title": "y" * 500}), 422
    )
    assert error["field"] == "title"
    assert client.get(f"{API}/incidents/{ref}", headers=commander).json()["title"] == (
        "Online checkout failing"
    )


def test_bad_transition_is_422_naming_state(client: Any, commander: Headers) -> None:
    ref = _open(client, commander)["ref"]
    error = _error(
        client.post(
            f"{API}/incidents/{ref}/state", headers=commander, json={"state": "postmortem"}
        ),
        422,
    )
    assert error["field"] == "state"
    assert "investigating" in error["message"] and "postmortem" in error["message"]
    incident = client.get(f"{API}/incidents/{ref}", headers=commander).json()
    assert incident["state"] == "investigating"
    assert incident["version"] == 1


def test_malformed_json_is_refused_clearly(client: Any, commander: Headers) -> None:
    json_headers = {**commander, "Content-Type": "application/json"}
    for raw, where in [('{"title": "Broken', 10), ("not json at all", 0)]:
        error = _error(client.post(f"{API}/incidents", headers=json_headers, content=raw), 422)
        assert error["field"] == "body"
        assert f"malformed JSON at character {where}" in error["message"]
    error = _error(client.post(f"{API}/incidents", headers=json_headers, content=""), 422)
    assert error == {**error, "field": "body", "message": "body: Field required"}
    error = _error(client.post(f"{API}/incidents", headers=commander, json=["a", "list"]), 422)
    assert error["field"] == "body" and "dictionary" in error["message"]
    assert client.get(f"{API}/incidents", headers=commander).json()["total"] == 0


def test_html_in_fields_is_returned_verbatim_as_data(client: Any, commander: Headers) -> None:
    incident = _open(client, commander, title=HOSTILE, summary=HOSTILE)
    fetched = client.get(f"{API}/incidents/{incident['ref']}", headers=commander).json()
    assert fetched["title"] == HOSTILE
    assert fetched["summary"] == HOSTILE
    assert (
        client.get(f"{API}/incidents/{incident['ref']}", headers=commander)
        .headers["content-type"]
        .startswith("application/json")
    )


def test_stale_edit_is_409(client: Any, commander: Headers) -> None:
    incident = _open(client, commander)
    ref, version = incident["ref"], incident["version"]
    first = client.patch(
        f"{API}/incidents/{ref}",
        headers=commander,
        json={"severity": "SEV1", "expected_version": version},
    )
    assert first.status_code == 200 and first.json()["severity"] == "SEV1"
    error = _error(
        client.patch(
            f"{API}/incidents/{ref}",
            headers=commander,
            json={"severity": "SEV3", "expected_version": version},
        ),
        409,
    )
    assert "version" in error["message"]
    assert client.get(f"{API}/incidents/{ref}", headers=commander).json()["severity"] == "SEV1"


def test_roles(
    client: Any, commander: Headers, bearer: Callable[..., Headers], catalogue: None
) -> None:
    ref = _open(client, commander)["ref"]
    comms, viewer, legal = bearer("communications"), bearer("viewer"), bearer("legal")

    # Communications: public updates yes, state changes no.
    response = client.post(
        f"{API}/incidents/{ref}/updates", headers=comms, json={"body": "We are looking into it."}
    )
    assert response.status_code == 201, response.text
    error = _error(
        client.post(f"{API}/incidents/{ref}/state", headers=comms, json={"state": "identified"}),
        403,
    )
    assert "incident_commander" in error["message"]
    _error(
        client.post(
            f"{API}/incidents",
            headers=comms,
            json={"title": "Not mine", "kind": "outage", "severity": "SEV4"},
        ),
        403,
    )

    # Viewer: read only.
    assert client.get(f"{API}/incidents/{ref}", headers=viewer).status_code == 200
    assert client.get(f"{API}/incidents", headers=viewer).status_code == 200
    assert client.get(f"{API}/incidents/{ref}/timeline", headers=viewer).status_code == 200
    assert client.get(f"{API}/components", headers=viewer).status_code == 200
    assert client.get(f"{API}/playbooks", headers=viewer).status_code == 200
    for path, body in [
        ("updates", {"body": "hi"}),
        ("notes", {"body": "hi"}),
        ("state", {"state": "identified"}),
        ("data-categories", {"add": ["email"]}),
    ]:
        _error(client.post(f"{API}/incidents/{ref}/{path}", headers=viewer, json=body), 403)

    # Legal: data categories and notes, not components.
    response = client.post(
        f"{API}/incidents/{ref}/data-categories", headers=legal, json={"add": ["email", "name"]}
    )
    assert response.status_code == 200 and response.json()["data_categories"] == ["email", "name"]
    assert (
        client.post(
            f"{API}/incidents/{ref}/notes", headers=legal, json={"body": "Checking GDPR art. 33"}
        ).status_code
        == 201
    )
    _error(
        client.post(
            f"{API}/incidents/{ref}/components",
            headers=legal,
            json={"components": {"website": "major_outage"}},
        ),
        403,
    )

    # The catalogue is the admin's.
    new_component = {"key": "stores-ie", "name": "Stores in Ireland", "group": "Stores"}
    _error(client.post(f"{API}/components", headers=commander, json=new_component), 403)
    admin = bearer("admin")
    response = client.post(f"{API}/components", headers=admin, json=new_component)
    assert response.status_code == 201 and response.json()["status"] == "operational"
    assert _error(client.post(f"{API}/components", headers=admin, json=new_component), 409)[
        "message"
    ]

    # No token at all; a token that does not resolve.
    assert _error(client.get(f"{API}/incidents"), 401)["code"] == "unauthenticated"
    assert (
        client.get(f"{API}/incidents", headers={"Authorization": "Bearer fw_nope_nope"}).status_code
        == 401
    )

    # Nothing the refused calls tried was stored.
    incident = client.get(f"{API}/incidents/{ref}", headers=viewer).json()
    assert incident["state"] == "investigating"
    assert incident["components"] == []
    assert len(incident["updates"]) == 1


def test_tasks_are_completed_by_their_role_or_the_commander(
    client: Any, commander: Headers, bearer: Callable[..., Headers]
) -> None:
    ref = _open(client, commander)["ref"]
    tasks = {}
    for role in ("legal", "security"):
        body = client.post(
            f"{API}/incidents/{ref}/tasks",
            headers=commander,
            json={"title": f"{role} task", "owner_role": role},
        ).json()
        tasks[role] = next(t["id"] for t in body["tasks"] if t["title"] == f"{role} task")
    legal = bearer("legal")
    error = _error(
        client.post(f"{API}/incidents/{ref}/tasks/{tasks['security']}/complete", headers=legal), 403
    )
    assert "security" in error["message"]
    response = client.post(f"{API}/incidents/{ref}/tasks/{tasks['legal']}/complete", headers=legal)
    assert response.status_code == 200
    by_id = {t["id"]: t for t in response.json()["tasks"]}
    assert by_id[tasks["legal"]]["done_at"] is not None
    assert by_id[tasks["security"]]["done_at"] is None
    assert _error(
        client.post(f"{API}/incidents/{ref}/tasks/{tasks['legal']}/complete", headers=commander),
        409,
    )["message"]
    assert _error(
        client.post(f"{API}/incidents/{ref}/tasks/999999/complete", headers=commander), 404
    )["message"]
    assert (
        client.post(
            f"{API}/incidents/{ref}/tasks/{tasks['security']}/complete", headers=bearer("viewer")
        ).status_code
        == 403
    )


def test_roles_notes_and_playbooks(
    client: Any, session: Session, clock: FrozenClock, commander: Headers
) -> None:
    ref = _open(client, commander, kind="customer_data_breach")["ref"]
    person = make_user(session, clock, roles=["legal"], name="Lena Legal")
    response = client.post(
        f"{API}/incidents/{ref}/roles",
        headers=commander,
        json={"role": "legal", "user_id": person.id},
    )
    assert response.status_code == 200, response.text
    assert [(r["role"], r["user_name"]) for r in response.json()["roles"]] == [
        ("legal", "Lena Legal")
    ]
    assert _error(
        client.post(
            f"{API}/incidents/{ref}/roles",
            headers=commander,
            json={"role": "legal", "user_id": person.id},
        ),
        409,
    )["message"]
    assert _error(
        client.post(
            f"{API}/incidents/{ref}/roles",
            headers=commander,
            json={"role": "legal", "user_id": 987654},
        ),
        404,
    )["message"]
    removed = client.delete(f"{API}/incidents/{ref}/roles/legal/{person.id}", headers=commander)
    assert removed.status_code == 200 and removed.json()["roles"] == []
    again = client.delete(f"{API}/incidents/{ref}/roles/legal/{person.id}", headers=commander)
    assert "is not legal" in _error(again, 404)["message"]

    response = client.post(
        f"{API}/incidents/{ref}/notes", headers=commander, json={"body": "Call the DPO"}
    )
    assert response.status_code == 201 and response.json()["notes"][-1]["body"] == "Call the DPO"
    assert (
        _error(
            client.post(f"{API}/incidents/{ref}/notes", headers=commander, json={"body": "   "}),
            422,
        )["field"]
        == "body"
    )

    playbooks = client.get(f"{API}/playbooks", headers=commander).json()
    kinds = {p["kind"] for p in playbooks}
    assert {"outage", "ransomware", "customer_data_breach", "card_breach"} <= kinds


def test_openapi_documents_every_incident_route(client: Any) -> None:
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    expected = {
        ("/api/v1/incidents", "get"),
        ("/api/v1/incidents", "post"),
        ("/api/v1/incidents/{ref}", "get"),
        ("/api/v1/incidents/{ref}", "patch"),
        ("/api/v1/incidents/{ref}/state", "post"),
        ("/api/v1/incidents/{ref}/components", "post"),
        ("/api/v1/incidents/{ref}/data-categories", "post"),
        ("/api/v1/incidents/{ref}/updates", "post"),
        ("/api/v1/incidents/{ref}/notes", "post"),
        ("/api/v1/incidents/{ref}/roles", "post"),
        ("/api/v1/incidents/{ref}/roles/{role}/{user_id}", "delete"),
        ("/api/v1/incidents/{ref}/tasks", "post"),
        ("/api/v1/incidents/{ref}/tasks/{task_id}/complete", "post"),
        ("/api/v1/incidents/{ref}/clock", "post"),
        ("/api/v1/incidents/{ref}/clock", "get"),
        ("/api/v1/incidents/{ref}/timeline", "get"),
        ("/api/v1/components", "get"),
        ("/api/v1/components", "post"),
        ("/api/v1/playbooks", "get"),
    }
    for path, method in expected:
        operation = paths[path][method]
        assert operation["summary"] and operation.get("description"), (path, method)
        assert operation["tags"], (path, method)
    assert not any(p.startswith("/console") for p in paths), "console pages are not API"

"""The users and tokens API: who may do what, and what it answers."""

from __future__ import annotations

from sqlalchemy import select

from firstword.core.audit import AuditEntry
from firstword.core.auth import service as auth
from tests.factories import make_user
from tests.web.conftest import bearer

NEW_USER = {
    "email": "Casey@Example.com",
    "name": "Casey Comms",
    "password": "a long enough password",
    "roles": ["communications"],
}


def test_me(client, session, clock):
    user = make_user(session, clock, roles=["legal", "security"], name="Lee Legal")
    body = client.get("/api/v1/me", headers=bearer(session, clock, user, ["legal"])).json()
    assert body["id"] == user.id
    assert body["name"] == "Lee Legal"
    assert body["roles"] == ["legal", "security"]
    assert body["acting_roles"] == ["legal"]
    assert "password" not in str(body)


def test_admin_manages_users(client, session, clock, admin):
    headers = bearer(session, clock, admin)
    created = client.post("/api/v1/users", json=NEW_USER, headers=headers)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "casey@example.com"
    assert user["roles"] == ["communications"]
    listed = client.get("/api/v1/users", headers=headers).json()
    assert [u["email"] for u in listed] == ["admin@example.com", "casey@example.com"]

    changed = client.patch(
        f"/api/v1/users/{user['id']}/roles",
        json={"roles": ["legal", "communications"]},
        headers=headers,
    )
    assert changed.status_code == 200
    assert changed.json()["roles"] == ["communications", "legal"]

    gone = client.post(f"/api/v1/users/{user['id']}/deactivate", headers=headers)
    assert gone.status_code == 200
    assert gone.json()["is_active"] is False
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["user.created", "user.roles_changed", "user.deactivated"]


def test_non_admins_cannot_manage_users(client, session, clock, admin):
    commander = make_user(
        session,
        clock,
        roles=[
            "incident_commander",
            "communications",
            "legal",
            "security",
            "customer_service",
            "viewer",
        ],
    )
    headers = bearer(session, clock, commander)
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    assert client.post("/api/v1/users", json=NEW_USER, headers=headers).status_code == 403
    assert (
        client.patch(
            f"/api/v1/users/{admin.id}/roles", json={"roles": ["viewer"]}, headers=headers
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/users/{admin.id}/deactivate", headers=headers).status_code == 403
    assert auth.count_users(session) == 2


def test_bad_user_input_names_the_field(client, session, clock, admin):
    headers = bearer(session, clock, admin)
    cases = [
        ({**NEW_USER, "roles": ["wizard"]}, 422, "roles"),
        ({**NEW_USER, "password": "short"}, 422, "password"),
        ({**NEW_USER, "email": "no-at-sign"}, 422, "email"),
        ({**NEW_USER, "name": "x" * 201}, 422, "name"),
        ({**NEW_USER, "extra": 1}, 422, "extra"),
        ({**NEW_USER, "email": "admin@example.com"}, 409, None),
    ]
    for body, status, field in cases:
        response = client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"].get("field") == field
    assert (
        client.patch(
            "/api/v1/users/999/roles", json={"roles": ["viewer"]}, headers=headers
        ).status_code
        == 404
    )
    assert auth.count_users(session) == 1


def test_hostile_user_names_are_stored_as_text(client, session, clock, admin):
    headers = bearer(session, clock, admin)
    name = "<script>alert('x')</script> Robert'); DROP TABLE users;--"
    created = client.post("/api/v1/users", json={**NEW_USER, "name": name}, headers=headers)
    assert created.status_code == 201
    assert created.json()["name"] == name
    assert auth.count_users(session) == 2


def test_the_last_admin_cannot_be_removed(client, session, clock, admin):
    headers = bearer(session, clock, admin)
    demote = client.patch(
        f"/api/v1/users/{admin.id}/roles", json={"roles": ["viewer"]}, headers=headers
    )
    assert demote.status_code == 409
    assert client.post(f"/api/v1/users/{admin.id}/deactivate", headers=headers).status_code == 409
    assert auth.get_user(session, admin.id).roles == ["admin"]
    assert auth.get_user(session, admin.id).is_active
    second = make_user(session, clock, roles=["admin"])
    assert (
        client.patch(
            f"/api/v1/users/{second.id}/roles", json={"roles": ["viewer"]}, headers=headers
        ).status_code
        == 200
    )


def test_tokens_for_yourself_within_your_roles(client, session, clock):
    user = make_user(session, clock, roles=["communications", "viewer"])
    headers = bearer(session, clock, user)
    issued = client.post(
        "/api/v1/tokens",
        json={"name": "bot", "scopes": ["viewer"], "expires_in_days": 30},
        headers=headers,
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["token"].startswith("fw_")
    assert body["scopes"] == ["viewer"]
    assert body["expires_at"].startswith("2026-12-20")
    beyond = client.post("/api/v1/tokens", json={"name": "x", "scopes": ["legal"]}, headers=headers)
    assert beyond.status_code == 422
    assert beyond.json()["error"]["field"] == "scopes"
    listed = client.get("/api/v1/tokens", headers=headers).json()
    assert {t["name"] for t in listed} == {"test token", "bot"}
    assert all("token" not in t for t in listed)  # secrets are never listed


def test_only_admins_issue_tokens_for_others(client, session, clock, admin):
    user = make_user(session, clock, roles=["legal"])
    other = make_user(session, clock, roles=["legal"])
    refused = client.post(
        "/api/v1/tokens",
        json={"name": "x", "scopes": ["legal"], "user_id": other.id},
        headers=bearer(session, clock, user),
    )
    assert refused.status_code == 403
    by_admin = client.post(
        "/api/v1/tokens",
        json={"name": "for legal", "scopes": ["legal"], "user_id": other.id},
        headers=bearer(session, clock, admin),
    )
    assert by_admin.status_code == 201
    not_held = client.post(
        "/api/v1/tokens",
        json={"name": "x", "scopes": ["security"], "user_id": other.id},
        headers=bearer(session, clock, admin),
    )
    assert not_held.status_code == 422  # scopes stay within the owner's roles


def test_listing_and_revoking_tokens(client, session, clock, admin):
    user = make_user(session, clock, roles=["legal"])
    other = make_user(session, clock, roles=["legal"])
    user_headers = bearer(session, clock, user)
    admin_headers = bearer(session, clock, admin)
    (own_token,) = auth.list_tokens(session, user_id=user.id)
    bearer(session, clock, other)
    others = [t.id for t in auth.list_tokens(session, user_id=other.id)]

    assert len(client.get("/api/v1/tokens", headers=user_headers).json()) == 1
    assert len(client.get("/api/v1/tokens", headers=admin_headers).json()) == 3
    # Someone else's token: not found for non-admins, revocable by admins.
    assert client.delete(f"/api/v1/tokens/{others[0]}", headers=user_headers).status_code == 404
    assert client.delete(f"/api/v1/tokens/{others[0]}", headers=admin_headers).status_code == 204
    assert client.delete("/api/v1/tokens/9999", headers=admin_headers).status_code == 404
    # Revoking your own token (even the one in use) works, and it stops working at once.
    assert client.delete(f"/api/v1/tokens/{own_token.id}", headers=user_headers).status_code == 204
    assert client.get("/api/v1/me", headers=user_headers).status_code == 401


def test_openapi_documents_the_staff_api(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path, method in [
        ("/api/v1/me", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{user_id}/roles", "patch"),
        ("/api/v1/tokens/{token_id}", "delete"),
    ]:
        operation = paths[path][method]
        assert operation["summary"]
        assert "401" in operation["responses"] and "403" in operation["responses"]
    assert not any(p.startswith("/console") for p in paths)
    assert "X-CSRF-Token" in schema["info"]["description"]

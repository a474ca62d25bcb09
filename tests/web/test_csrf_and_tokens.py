"""CSRF on cookie sessions, Bearer tokens (no CSRF), revoked/expired tokens, token scopes."""

from __future__ import annotations

from datetime import timedelta

from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from tests.factories import make_user
from tests.web.conftest import bearer, form_csrf, session_csrf, sign_in

NEW_USER = {
    "email": "new@example.com",
    "name": "New Person",
    "password": "a long enough password",
    "roles": ["viewer"],
}


def test_cookie_session_api_change_needs_the_csrf_header(client, admin):
    sign_in(client, admin.email)
    refused = client.post("/api/v1/users", json=NEW_USER)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    wrong = client.post("/api/v1/users", json=NEW_USER, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    token = session_csrf(client)
    created = client.post("/api/v1/users", json=NEW_USER, headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "new@example.com"


def test_cookie_session_reads_need_no_csrf(client, admin):
    sign_in(client, admin.email)
    assert client.get("/api/v1/users").status_code == 200


def test_cookie_session_form_change_needs_the_csrf_field(client, session, viewer):
    sign_in(client, viewer.email)
    form = {"name": "laptop script", "scopes": ["viewer"], "expires_in_days": "30"}
    refused = client.post("/console/account/tokens", data=form)
    assert refused.status_code == 403
    assert "did not come from this site" in refused.text
    assert auth.list_tokens(session) == []
    accepted = client.post(
        "/console/account/tokens", data={**form, "csrf_token": session_csrf(client)}
    )
    assert accepted.status_code == 200
    assert "laptop script" in accepted.text
    assert "shown only this once" in accepted.text


def test_the_csrf_token_belongs_to_its_session(client, session, clock, viewer):
    other = make_user(session, clock, roles=["viewer"])
    sign_in(client, other.email)
    others_token = session_csrf(client)
    client.cookies.clear()
    sign_in(client, viewer.email)
    response = client.post(
        "/console/logout", data={"csrf_token": others_token}, follow_redirects=False
    )
    assert response.status_code == 403


def test_bearer_token_works_without_csrf(client, session, clock, admin):
    headers = bearer(session, clock, admin)
    created = client.post("/api/v1/users", json=NEW_USER, headers=headers)
    assert created.status_code == 201, created.text
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["authenticated_by"] == "token"
    assert me["acting_roles"] == ["admin"]


def test_bad_bearer_is_refused_even_with_a_valid_cookie(client, admin):
    sign_in(client, admin.email)
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer fw_nope_nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_token_is_refused(client, session, clock, admin):
    issued = auth.issue_token(
        session,
        clock=clock,
        actor=system_actor("tests"),
        user_id=admin.id,
        name="ci",
        scopes=["admin"],
    )
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    auth.revoke_token(session, clock=clock, actor=system_actor("tests"), token_id=issued.id)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_expired_token_is_refused(client, session, clock, viewer):
    headers = bearer(session, clock, viewer, expires_in_days=1)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    clock.advance(timedelta(days=1))
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_token_of_a_deactivated_user_is_refused(client, session, clock, viewer):
    headers = bearer(session, clock, viewer)
    auth.deactivate_user(session, clock=clock, actor=system_actor("tests"), user_id=viewer.id)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_token_scopes_limit_the_roles(client, session, clock, admin):
    """An admin's token scoped to viewer acts as a viewer: it cannot create users, nor mint
    itself a more powerful token."""
    headers = bearer(session, clock, admin, scopes=["viewer"])
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["roles"] == ["admin"] and me["acting_roles"] == ["viewer"]
    refused = client.post("/api/v1/users", json=NEW_USER, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    escalate = client.post(
        "/api/v1/tokens", json={"name": "more", "scopes": ["admin"]}, headers=headers
    )
    assert escalate.status_code == 422
    assert escalate.json()["error"]["field"] == "scopes"
    same = client.post(
        "/api/v1/tokens", json={"name": "same", "scopes": ["viewer"]}, headers=headers
    )
    assert same.status_code == 201


def test_token_loses_roles_its_owner_loses(client, session, clock):
    user = make_user(session, clock, roles=["communications", "legal"])
    headers = bearer(session, clock, user, scopes=["communications", "legal"])
    auth.set_roles(
        session, clock=clock, actor=system_actor("tests"), user_id=user.id, roles=["legal"]
    )
    assert client.get("/api/v1/me", headers=headers).json()["acting_roles"] == ["legal"]


def test_account_page_issues_and_revokes_tokens(client, session, clock, viewer):
    sign_in(client, viewer.email)
    page = client.post(
        "/console/account/tokens",
        data={
            "name": "<b>my</b> script",
            "scopes": ["viewer"],
            "expires_in_days": "90",
            "csrf_token": session_csrf(client),
        },
    )
    assert page.status_code == 200
    assert "&lt;b&gt;my&lt;/b&gt; script" in page.text and "<b>my</b>" not in page.text
    secret = page.text.split('id="issued-token" type="text" readonly value="')[1].split('"')[0]
    assert secret.startswith("fw_")
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    (token,) = auth.list_tokens(session, user_id=viewer.id)
    revoked = client.post(
        f"/console/account/tokens/{token.id}/revoke",
        data={"csrf_token": form_csrf(page.text)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    notice = client.get(revoked.headers["location"])
    assert "revoked" in notice.text and "Revoked" in notice.text
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_account_page_refuses_scopes_beyond_your_roles(client, session, clock, viewer):
    sign_in(client, viewer.email)
    page = client.post(
        "/console/account/tokens",
        data={
            "name": "sneaky",
            "scopes": ["admin"],
            "csrf_token": session_csrf(client),
        },
    )
    assert page.status_code == 422
    assert "you do not act with the roles" in page.text
    assert 'value="sneaky"' in page.text  # the form keeps what was typed
    assert auth.list_tokens(session, user_id=viewer.id) == []


def test_account_page_cannot_revoke_someone_elses_token(client, session, clock, viewer):
    other = make_user(session, clock, roles=["legal"])
    issued = auth.issue_token(
        session,
        clock=clock,
        actor=system_actor("tests"),
        user_id=other.id,
        name="theirs",
        scopes=["legal"],
    )
    sign_in(client, viewer.email)
    response = client.post(
        f"/console/account/tokens/{issued.id}/revoke", data={"csrf_token": session_csrf(client)}
    )
    assert response.status_code == 404
    (token,) = auth.list_tokens(session, user_id=other.id)
    assert token.revoked_at is None

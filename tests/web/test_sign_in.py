"""Signing in and out of the console: cookies, messages, redirects, expiry, CSRF, limits."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from firstword.context import Context
from firstword.core.audit import AuditEntry
from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.web.app import create_app
from firstword.web.auth_routes import safe_next
from tests.factories import PASSWORD, make_user
from tests.web.conftest import form_csrf, session_csrf, sign_in

SAME_MESSAGE = "The e-mail address or password is wrong."


def _client_with(
    context: Context, base_url: str = "http://testserver", **settings: Any
) -> TestClient:
    changed = dataclasses.replace(context, settings=context.settings.model_copy(update=settings))
    return TestClient(create_app(changed), base_url=base_url)


def _as_cookie_holder(client: TestClient, session_cookie: str) -> TestClient:
    """Another browser that holds (say, stole) a copy of a session cookie."""
    other = TestClient(client.app, base_url="http://testserver")
    other.cookies.set("fw_session", session_cookie)
    return other


def _set_cookie(response: Any, name: str) -> Any:
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            return cookie[name]
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


def test_sign_in_sets_a_session_and_lands_in_the_console(client, session, clock, admin):
    response = sign_in(client, "ADMIN@example.com ")  # e-mail is trimmed and case-folded
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"
    assert client.cookies.get("fw_session")
    home = client.get("/console/", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/console/incidents"
    me = client.get("/api/v1/me").json()
    assert me["email"] == "admin@example.com"
    assert me["authenticated_by"] == "session"
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "user.signed_in" in actions


def test_session_cookie_flags(context, session, clock):
    user = make_user(session, clock, roles=["viewer"])
    # Secure cookies travel over HTTPS only, so this browser speaks HTTPS.
    with _client_with(
        context, "https://testserver", secure_cookies=True, session_hours=8
    ) as client:
        page = client.get("/console/login")
        csrf_cookie = _set_cookie(page, "fw_csrf")
        assert csrf_cookie["httponly"] and csrf_cookie["secure"]
        assert csrf_cookie["samesite"].lower() == "strict"
        assert csrf_cookie["path"] == "/console/login"
        response = client.post(
            "/console/login",
            data={
                "email": user.email,
                "password": PASSWORD,
                "csrf_token": form_csrf(page.text),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        cookie = _set_cookie(response, "fw_session")
        assert cookie["httponly"] is True
        assert cookie["secure"] is True
        assert cookie["samesite"].lower() == "lax"
        assert cookie["path"] == "/"
        assert int(cookie["max-age"]) == 8 * 3600
        assert len(cookie.value) >= 40


def test_cookies_are_not_secure_by_default(client, viewer):
    response = sign_in(client, viewer.email)
    assert not _set_cookie(response, "fw_session")["secure"]


WRONG = [
    ("viewer@example.com", "wrong password, long enough"),  # known e-mail, wrong password
    ("nobody@example.com", PASSWORD),  # unknown e-mail
    ("not-an-email", PASSWORD),
    ("", ""),
]


def test_wrong_credentials_get_one_message_and_keep_the_email(client, viewer):
    for email, password in WRONG:
        response = sign_in(client, email, password)
        assert response.status_code == 400, email
        assert SAME_MESSAGE in response.text
        assert f'value="{email}"' in response.text
        assert "fw_session" not in client.cookies
        assert 'type="password"' in response.text and PASSWORD not in response.text


def test_deactivated_user_cannot_sign_in(client, session, clock, viewer):
    auth.deactivate_user(session, clock=clock, actor=system_actor("tests"), user_id=viewer.id)
    response = sign_in(client, viewer.email)
    assert response.status_code == 400
    assert SAME_MESSAGE in response.text


def test_next_inside_the_console_is_honoured(client, viewer):
    response = sign_in(client, viewer.email, next_path="/console/incidents/INC-2026-0001?tab=2")
    assert response.headers["location"] == "/console/incidents/INC-2026-0001?tab=2"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/console/",
        "//evil.example/console/",
        "/\\evil.example",
        "/console\\@evil.example",
        "javascript:alert(1)",
        "/api/v1/users",
        "/consoleevil",
        "/console/login",
        " /console/",
        "/console/\r\nSet-Cookie: x=y",
        "/console/" + "a" * 3000,
        "/console/../api/v1/users",
        "/console/%2e%2e/api/v1/users",
    ],
)
def test_open_redirect_targets_are_refused(target):
    assert safe_next(target) == "/console/"


def test_safe_targets_are_kept():
    assert safe_next("/console") == "/console"
    assert safe_next("/console/incidents?state=open") == "/console/incidents?state=open"


def test_open_redirect_through_the_form_is_ignored(client, viewer):
    response = sign_in(client, viewer.email, next_path="//evil.example/console/")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/"


def test_unauthenticated_console_page_redirects_to_sign_in_with_next(client):
    response = client.get("/console/account?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/account%3Fx%3D1"


def test_signed_in_user_visiting_the_form_goes_on(client, viewer):
    sign_in(client, viewer.email)
    response = client.get("/console/login?next=/console/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/account"


def test_session_expires_after_session_hours(client, viewer, clock: FrozenClock, context):
    sign_in(client, viewer.email)
    assert client.get("/console/account").status_code == 200
    clock.advance(timedelta(hours=context.settings.session_hours) - timedelta(minutes=1))
    assert client.get("/console/account").status_code == 200
    clock.advance(timedelta(minutes=2))
    response = client.get("/console/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    assert client.get("/api/v1/me").status_code == 401


def test_sign_out_revokes_the_session(client, viewer):
    sign_in(client, viewer.email)
    old_cookie = client.cookies.get("fw_session")
    response = client.post(
        "/console/logout", data={"csrf_token": session_csrf(client)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    assert 'fw_session=""' in response.headers["set-cookie"]
    # Replaying the old cookie (a stolen copy, say) no longer works.
    assert _as_cookie_holder(client, old_cookie).get("/api/v1/me").status_code == 401


def test_sign_out_needs_the_csrf_token(client, viewer):
    sign_in(client, viewer.email)
    response = client.post("/console/logout", follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/api/v1/me").status_code == 200


def test_signing_in_again_ends_the_previous_session(client, viewer):
    sign_in(client, viewer.email)
    first = client.cookies.get("fw_session")
    client.cookies.delete("fw_session")
    page = client.get("/console/login")
    client.cookies.set("fw_session", first, domain="testserver.local")
    response = client.post(
        "/console/login",
        data={
            "email": viewer.email,
            "password": PASSWORD,
            "csrf_token": form_csrf(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert client.cookies.get("fw_session") != first
    assert client.get("/api/v1/me").status_code == 200
    assert _as_cookie_holder(client, first).get("/api/v1/me").status_code == 401


def test_sign_in_form_needs_the_double_submit_token(client, viewer):
    """No cookie, no field, or the two differing: refused, with a fresh form that works."""
    for cookie, field in [(None, None), ("a" * 43, None), (None, "a" * 43), ("a" * 43, "b" * 43)]:
        client.cookies.clear()
        if cookie:
            client.cookies.set("fw_csrf", cookie, path="/console/login")
        data = {"email": viewer.email, "password": PASSWORD}
        if field:
            data["csrf_token"] = field
        response = client.post("/console/login", data=data, follow_redirects=False)
        assert response.status_code == 403, (cookie, field)
        assert "expired" in response.text
        assert "fw_session" not in client.cookies
    retry = client.post(
        "/console/login",
        data={"email": viewer.email, "password": PASSWORD, "csrf_token": form_csrf(response.text)},
        follow_redirects=False,
    )
    assert retry.status_code == 303


def test_sign_in_attempts_are_rate_limited(context, session, clock):
    user = make_user(session, clock, roles=["viewer"])
    with _client_with(context, login_rate_limit_per_minute=3) as client:
        for _ in range(3):
            assert sign_in(client, user.email, "wrong password, long enough").status_code == 400
        limited = sign_in(client, user.email)  # even the right password waits now
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "Too many requests" in limited.text
        assert "fw_session" not in client.cookies
        # Only sign-in attempts count: other pages still answer.
        assert client.get("/console/login").status_code == 200


HOSTILE = [
    '<script>alert("x")</script>@example.com',
    '"><img src=x onerror=alert(1)>',
    "' OR '1'='1'; DROP TABLE users; --",
    "a" * 100_000,
    "ünïcödé@exämple.com\u202e",
]


def test_hostile_sign_in_input_is_refused_and_escaped(client, session, viewer):
    for value in HOSTILE:
        response = sign_in(client, value, value)
        assert response.status_code == 400
        assert SAME_MESSAGE in response.text
        assert "<script>alert" not in response.text
        assert "<img src=x" not in response.text
        assert len(response.text) < 60_000  # the echoed e-mail is cut to its maximum length
        if value.startswith("<script>"):
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;@example.com" in response.text
    assert auth.count_users(session) == 1  # still just the viewer: nothing was dropped

"""Helpers for the web tests: sign in through the real form, read CSRF tokens, issue tokens."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import Role, system_actor
from firstword.core.clock import Clock
from tests.factories import PASSWORD, make_user

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_csrf(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD, next_path: str = "") -> Any:
    """GET the sign-in form (sets the fw_csrf cookie), then POST it like a browser."""
    page = client.get(
        "/console/login", params={"next": next_path} if next_path else None, follow_redirects=False
    )
    assert page.status_code == 200, page.text
    return client.post(
        "/console/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": form_csrf(page.text),
            "next": next_path,
        },
        follow_redirects=False,
    )


def session_csrf(client: Any) -> str:
    """The signed-in session's CSRF token, as the account page's forms carry it."""
    page = client.get("/console/account")
    assert page.status_code == 200, page.text
    return form_csrf(page.text)


def bearer(
    session: Session,
    clock: Clock,
    user: auth.UserRead,
    scopes: Sequence[str | Role] | None = None,
    **kwargs: Any,
) -> dict[str, str]:
    issued = auth.issue_token(
        session,
        clock=clock,
        actor=system_actor("tests"),
        user_id=user.id,
        name="test token",
        scopes=[str(s) for s in (scopes or user.roles)],
        **kwargs,
    )
    return {"Authorization": f"Bearer {issued.token}"}


@pytest.fixture
def admin(session: Session, clock: Clock) -> auth.UserRead:
    return make_user(session, clock, roles=["admin"], email="admin@example.com", name="Ada Admin")


@pytest.fixture
def viewer(session: Session, clock: Clock) -> auth.UserRead:
    return make_user(
        session, clock, roles=["viewer"], email="viewer@example.com", name="Vic Viewer"
    )

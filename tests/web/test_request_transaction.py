"""One transaction per request, committed before the client hears of success."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.web.app import create_app
from tests.factories import make_user

NEW_EMAIL = "committed-before-response@example.com"


class SeesCommittedRows:
    """ASGI middleware that, the moment the response starts, counts the new user's rows
    from another database connection (so it sees only committed data)."""

    def __init__(self, app: ASGIApp, engine: Any) -> None:
        self.app = app
        self.engine = engine
        self.seen: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start" and scope["path"] == "/api/v1/users":
                self.seen.append(self._count())
            await send(message)

        await self.app(scope, receive, watching_send)

    def _count(self) -> int:
        # A raw DBAPI connection: no SQLAlchemy BEGIN (on SQLite ours is BEGIN IMMEDIATE,
        # which would wait for the writer instead of reading the committed snapshot).
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"SELECT count(*) FROM users WHERE email = '{NEW_EMAIL}'")
            (count,) = cursor.fetchone()
            raw.rollback()
            return int(count)
        finally:
            raw.close()


def _admin_token(committing_context: Any) -> str:
    with committing_context.sessionmaker() as session, session.begin():
        clock = committing_context.clock
        admin = make_user(session, clock, roles=["admin"])
        issued = auth.issue_token(
            session,
            clock=clock,
            actor=system_actor("tests"),
            user_id=admin.id,
            name="t",
            scopes=["admin"],
        )
    return issued.token


def test_a_route_commits_before_the_response_is_sent(committing_context):
    token = _admin_token(committing_context)
    app = create_app(committing_context)
    watcher = SeesCommittedRows(app, committing_context.engine)
    with TestClient(watcher, base_url="http://testserver") as client:  # type: ignore[arg-type]
        response = client.post(
            "/api/v1/users",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "email": NEW_EMAIL,
                "name": "N",
                "roles": ["viewer"],
                "password": "a long enough password",
            },
        )
        assert response.status_code == 201, response.text
        assert watcher.seen == [1]
        # ... and the next request sees it too.
        listed = client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert NEW_EMAIL in [u["email"] for u in listed.json()]


def test_a_failing_route_rolls_back_everything(committing_context):
    """set_roles writes (and audits) before the last-admin check refuses: none of it stays."""
    token = _admin_token(committing_context)
    with TestClient(create_app(committing_context), base_url="http://testserver") as client:
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/api/v1/me", headers=headers).json()
        response = client.patch(
            f"/api/v1/users/{me['id']}/roles", json={"roles": ["viewer"]}, headers=headers
        )
        assert response.status_code == 409
    with committing_context.engine.connect() as conn:
        roles = conn.execute(text("SELECT roles FROM users")).scalar_one()
        actions = conn.execute(text("SELECT action FROM audit_log")).scalars().all()
    assert "admin" in str(roles)
    assert "user.roles_changed" not in actions

"""FastAPI dependencies every route uses: the context, a transaction, the acting user.

Routes declare `session: SessionDep` and `actor: Annotated[Actor, Depends(require_role(...))]`
and nothing else. The route-table test finds `require_role` on every staff route.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor, Role
from firstword.core.clock import Clock

SESSION_COOKIE = "fw_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuthRequired(Exception):
    """No valid session or token: API callers get 401, console pages a redirect to sign in."""


class RoleRequired(Exception):
    def __init__(self, roles: frozenset[Role]) -> None:
        super().__init__(", ".join(sorted(roles)))
        self.roles = roles


class CsrfFailed(Exception):
    """A cookie-authenticated change without the session's CSRF token."""


def get_context(request: Request) -> Context:
    context: Context = request.app.state.context
    return context


ContextDep = Annotated[Context, Depends(get_context)]


def get_clock(context: ContextDep) -> Clock:
    return context.clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def get_session(context: ContextDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with context.sessionmaker() as session, session.begin():
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def _submitted_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def get_optional_actor(request: Request, session: SessionDep, clock: ClockDep
                             ) -> Actor | None:
    """The actor behind a Bearer token or a session cookie, or None. Sets
    `request.state.csrf_token` for templates when signed in through the browser."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        actor = auth.resolve_token(session, clock=clock, raw=authorization[7:].strip())
        if actor is None:
            raise AuthRequired()
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    identity = auth.resolve_session(session, clock=clock, cookie_value=cookie)
    if identity is None:
        return None
    request.state.csrf_token = identity.csrf_token
    if request.method in UNSAFE_METHODS:
        submitted = await _submitted_csrf(request)
        if not submitted or not hmac.compare_digest(submitted, identity.csrf_token):
            raise CsrfFailed()
    request.state.actor = identity.actor
    return identity.actor


OptionalActorDep = Annotated[Actor | None, Depends(get_optional_actor)]


def require_role(*roles: Role) -> Callable[..., Any]:
    """Dependency: a signed-in actor holding one of `roles` (admin holds all).
    With no roles given, any signed-in staff member will do."""
    wanted = frozenset(roles)

    def dependency(actor: OptionalActorDep) -> Actor:
        if actor is None:
            raise AuthRequired()
        if wanted and not actor.has_any(wanted):
            raise RoleRequired(wanted)
        return actor

    dependency.__firstword_roles__ = wanted  # type: ignore[attr-defined]
    return dependency


def roles_of(dependency: Callable[..., Any]) -> frozenset[Role] | None:
    """The roles a require_role dependency asks for (None for any other callable)."""
    return getattr(dependency, "__firstword_roles__", None)


StaffDep = Annotated[Actor, Depends(require_role())]

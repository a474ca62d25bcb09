"""FastAPI dependencies every route uses: the context, a transaction, the acting user.

Routes declare `session: SessionDep` and `actor: Annotated[Actor, Depends(require_role(...))]`
(or `StaffDep` for any signed-in staff member) and nothing else. The route-table test finds
`require_role` on every staff route.
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
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


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


# scope="function": the code after `yield` (the COMMIT) runs when the route function returns
# and before the response is sent. With FastAPI's default ("request") it runs after the
# client has already been told "201 Created", so a failed commit would be a silent lie.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _bearer(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


async def _submitted_csrf(request: Request) -> str | None:
    """The CSRF token a browser sent with a change: the X-CSRF-Token header (htmx sends it
    on every request) or the `csrf_token` form field. Async because reading the form is;
    the database work stays in the sync dependency below."""
    if request.method not in UNSAFE_METHODS or _bearer(request) is not None:
        return None
    if not request.cookies.get(SESSION_COOKIE):
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(_FORM_TYPES):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def get_optional_actor(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    submitted_csrf: Annotated[str | None, Depends(_submitted_csrf)],
) -> Actor | None:
    """The actor behind a Bearer token or a session cookie, or None.

    A Bearer header that does not resolve is refused outright (no fallback to the cookie).
    For cookie sessions, every unsafe method must carry the session's CSRF token, and
    `request.state.csrf_token` / `request.state.actor` are set for the templates."""
    raw_token = _bearer(request)
    if raw_token is not None:
        actor = auth.resolve_token(session, clock=clock, raw=raw_token)
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
    request.state.actor = identity.actor
    if request.method in UNSAFE_METHODS and not (
        submitted_csrf
        and hmac.compare_digest(submitted_csrf.encode(), identity.csrf_token.encode())
    ):
        raise CsrfFailed()
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
    label = "_".join(sorted(wanted)) or "staff"
    dependency.__name__ = dependency.__qualname__ = f"require_role_{label}"
    return dependency


def roles_of(dependency: Callable[..., Any]) -> frozenset[Role] | None:
    """The roles a require_role dependency asks for (None for any other callable)."""
    return getattr(dependency, "__firstword_roles__", None)


StaffDep = Annotated[Actor, Depends(require_role())]

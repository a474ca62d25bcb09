"""Sign-in, sign-out and the account page (/console) and the users/tokens API (/api/v1).

Sign-in has no session yet, so its form is protected by a double-submit token: a random
`fw_csrf` cookie (HttpOnly, SameSite=Strict, path /console/login) that the form repeats in
a hidden field; the two are compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor, Role
from firstword.core.errors import InvalidInput
from firstword.core.ids import new_token
from firstword.core.settings import Settings
from firstword.web.auth_api import router as api_router
from firstword.web.deps import (
    SESSION_COOKIE,
    ClockDep,
    ContextDep,
    OptionalActorDep,
    SessionDep,
    StaffDep,
)
from firstword.web.security import client_key, rate_limited
from firstword.web.templating import render

__all__ = ["api_router", "pages_router"]

log = logging.getLogger("firstword.auth")

pages_router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "fw_csrf"
LOGIN_PATH = "/console/login"
HOME = "/console/"
MAX_EMAIL = 320
MAX_PASSWORD = 1024  # argon2 over megabytes of "password" would be a cheap denial of service
WRONG_CREDENTIALS = "The e-mail address or password is wrong."
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")
EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never")]


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a path inside the console on this site, never
    another host (`//evil`, `https://evil`, `/\\evil`), never the sign-in page itself."""
    if not value or len(value) > 2000 or any(ord(c) < 32 or c == "\\" for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return HOME
    if not (parts.path == "/console" or parts.path.startswith("/console/")):
        return HOME
    if parts.path.rstrip("/") in (LOGIN_PATH, "/console/logout"):
        return HOME
    if {".", ".."} & set(unquote(parts.path).split("/")):  # /console/../api/...
        return HOME
    return value


def _cookie_flags(settings: Settings) -> dict[str, Any]:
    return {"httponly": True, "secure": settings.secure_cookies}


def _login_page(
    request: Request,
    settings: Settings,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    existing = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    token = existing if _TOKEN_SHAPE.fullmatch(existing) else new_token()
    response: Response = render(
        request,
        "login.html",
        {
            "actor": None,
            "login_csrf": token,
            "next": next_path,
            "email": email[:MAX_EMAIL],
            "error": error,
        },
        status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, path=LOGIN_PATH, samesite="strict", **_cookie_flags(settings)
    )
    return response


@pages_router.get("/login", summary="Sign-in form")
def login_form(
    request: Request, context: ContextDep, actor: OptionalActorDep, next: str = ""
) -> Response:
    target = safe_next(next)
    if actor is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, context.settings, next_path=target)


@pages_router.post(
    "/login",
    summary="Sign in",
    dependencies=[Depends(rate_limited("login", "login_rate_limit_per_minute"))],
)
def login_submit(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    clock: ClockDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    settings = context.settings
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (cookie and csrf_token and hmac.compare_digest(cookie.encode(), csrf_token.encode())):
        return _login_page(
            request,
            settings,
            next_path=target,
            email=email,
            status_code=403,
            error="The sign-in form had expired. Please sign in again.",
        )
    try:
        if len(email) > MAX_EMAIL or len(password) > MAX_PASSWORD:
            raise InvalidInput("credentials", "too long")
        signed_in = auth.sign_in(
            session, clock=clock, email=email, password=password, hours=settings.session_hours
        )
    except InvalidInput:
        log.warning("failed sign-in from %s", client_key(request))
        return _login_page(
            request,
            settings,
            next_path=target,
            email=email,
            status_code=400,
            error=WRONG_CREDENTIALS,
        )
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # signing in again in the same browser ends the previous session
        auth.sign_out(session, clock=clock, cookie_value=old)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.cookie_value,
        path="/",
        samesite="lax",
        max_age=settings.session_hours * 3600,
        expires=signed_in.expires_at,
        **_cookie_flags(settings),
    )
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path=LOGIN_PATH, samesite="strict", **_cookie_flags(settings)
    )
    return response


@pages_router.post("/logout", summary="Sign out")
def logout(
    request: Request, _actor: StaffDep, context: ContextDep, session: SessionDep, clock: ClockDep
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.sign_out(session, clock=clock, cookie_value=cookie)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", samesite="lax", **_cookie_flags(context.settings)
    )
    return response


@pages_router.get("/", summary="Console home")
def console_home(_actor: StaffDep) -> Response:
    return RedirectResponse("/console/incidents", status_code=303)


# --- account: who am I, my API tokens ----------------------------------------------------


def _account_page(
    request: Request,
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    issued: auth.IssuedToken | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    assert actor.user_id is not None  # sessions and tokens always belong to a user
    user = auth.get_user(session, actor.user_id)
    tokens = auth.list_tokens(session, user_id=actor.user_id)
    grantable = sorted(Role) if Role.ADMIN in actor.roles else sorted(actor.roles)
    response: Response = render(
        request,
        "account.html",
        {
            "user": user,
            "tokens": tokens,
            "now": now,
            "issued": issued,
            "error": error,
            "form": form or {"name": "", "scopes": [], "expires_in_days": "90"},
            "notice": notice,
            "grantable_roles": grantable,
            "expiry_choices": EXPIRY_CHOICES,
            "token_auth": actor.kind == "token",
        },
        status_code,
    )
    return response


@pages_router.get("/account", summary="Your account and API tokens")
def account(
    request: Request,
    actor: StaffDep,
    session: SessionDep,
    clock: ClockDep,
    revoked: int | None = None,
) -> Response:
    notice = None
    if revoked is not None:
        names = [
            t.name
            for t in auth.list_tokens(session, user_id=actor.user_id)
            if t.id == revoked and t.revoked_at is not None
        ]
        notice = f"Token “{names[0]}” revoked." if names else None
    return _account_page(request, session, actor, clock.now(), notice=notice)


@pages_router.post("/account/tokens", summary="Issue an API token for yourself")
def account_issue_token(
    request: Request,
    actor: StaffDep,
    session: SessionDep,
    clock: ClockDep,
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    expires_in_days: Annotated[str, Form()] = "",
) -> Response:
    form = {"name": name, "scopes": scopes, "expires_in_days": expires_in_days}
    try:
        days = int(expires_in_days) if expires_in_days else None
    except ValueError:
        days = -1  # reported by the service as out of range
    try:
        if not scopes:
            raise InvalidInput("scopes", "choose at least one role")
        issued = auth.issue_token_as(
            session,
            clock=clock,
            actor=actor,
            user_id=None,
            name=name,
            scopes=scopes,
            expires_in_days=days,
        )
    except InvalidInput as exc:
        return _account_page(
            request, session, actor, clock.now(), error=exc.message, form=form, status_code=422
        )
    return _account_page(request, session, actor, clock.now(), issued=issued)


@pages_router.post("/account/tokens/{token_id}/revoke", summary="Revoke one of your tokens")
def account_revoke_token(
    token_id: int, actor: StaffDep, session: SessionDep, clock: ClockDep
) -> Response:
    auth.revoke_token_as(session, clock=clock, actor=actor, token_id=token_id)
    return RedirectResponse(f"/console/account?revoked={token_id}", status_code=303)

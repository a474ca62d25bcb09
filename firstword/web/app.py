"""Assembly only: build the FastAPI app from a Context, mount every domain's routers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from firstword import __version__
from firstword.context import Context, build_context
from firstword.core.auth import service as auth
from firstword.core.errors import FirstwordError, InvalidInput
from firstword.incidents import api as incidents_api
from firstword.incidents import pages as incidents_pages
from firstword.statuspage import console_pages as statuspage_console_pages
from firstword.statuspage import maintenance_api as statuspage_maintenance_api
from firstword.statuspage import public as statuspage_public
from firstword.statuspage import store_pages as statuspage_store_pages
from firstword.statuspage import subscription_pages as statuspage_subscriptions
from firstword.statuspage.edge import PublicEdge
from firstword.web import auth_routes, health
from firstword.web.deps import SESSION_COOKIE, AuthRequired, CsrfFailed, RoleRequired
from firstword.web.security import (
    RateLimited,
    SecurityHeadersMiddleware,
    add_security_headers,
)
from firstword.web.templating import render

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("firstword.web")

API_DESCRIPTION = """\
Staff API of firstword. Everything under `/api/v1` needs either

* a browser session (cookie `fw_session`, from signing in at `/console/login`); changes
  (POST, PUT, PATCH, DELETE) must then also send the session's CSRF token in the
  `X-CSRF-Token` header; or
* an API token: `Authorization: Bearer fw_...` (issue one at `/console/account` or with
  `POST /api/v1/tokens`). Tokens act with at most their scopes and need no CSRF header.

Each route needs one of the roles it names; `admin` holds every role. Errors are
`{"error": {"code", "message", "field"}}` with a 4xx status.
"""

ERROR_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    422: "Check your input",
    429: "Too many requests",
    500: "Server error",
}


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith("/console")


def _error_body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def _identify(request: Request) -> None:
    """For pages no route handled (404, 405): find the signed-in user so the error page still
    shows the navigation. Never fails the error page itself."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or getattr(request.state, "actor", None) is not None:
        return
    context: Context = request.app.state.context
    try:
        with context.sessionmaker() as session, session.begin():
            identity = auth.resolve_session(session, clock=context.clock, cookie_value=cookie)
    except Exception:  # the error page matters more than the navigation on it
        log.warning("could not resolve the session for an error page", exc_info=True)
        return
    if identity is not None:
        request.state.actor = identity.actor
        request.state.csrf_token = identity.csrf_token


def _error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    response: Response = render(
        request,
        "error.html",
        {
            "status": status,
            "title": ERROR_TITLES.get(status),
            "message": message,
        },
        status,
    )
    response.headers.update(headers or {})
    return response


def _problem(err: Any) -> dict[str, str]:
    """One validation error as {field, message}. Only the leading "body" of the location is
    dropped (a field may itself be called `body`); malformed JSON names itself."""
    loc = [str(p) for p in err.get("loc", ())]
    in_body = loc[:1] == ["body"]
    if in_body:
        loc = loc[1:]
    if err.get("type") == "json_invalid":
        reason = (err.get("ctx") or {}).get("error", "")
        at = f" at character {loc[0]}" if loc else ""
        return {"field": "body", "message": f"malformed JSON{at}: {reason}".rstrip(": ")}
    field = ".".join(loc) or ("body" if in_body else "")  # "body": the request body as a whole
    return {"field": field, "message": str(err.get("msg", ""))}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthRequired)
    async def _auth_required(request: Request, _exc: AuthRequired) -> Response:
        if _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":  # a form posted after the session ended
                target = "/console/"
            if request.headers.get("hx-request") == "true":
                # htmx would swap the sign-in page into a fragment; send the whole page there.
                current = urlsplit(request.headers.get("hx-current-url", target))
                target = (current.path or "/console/") + (
                    f"?{current.query}" if current.query else ""
                )
                login = f"/console/login?next={quote(target)}"
                return Response(status_code=200, headers={"HX-Redirect": login})
            return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)
        return JSONResponse(
            _error_body("unauthenticated", "sign in or send a Bearer token"),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(RoleRequired)
    async def _role_required(request: Request, exc: RoleRequired) -> Response:
        message = f"this needs one of the roles: {', '.join(sorted(exc.roles))}"
        if _wants_html(request):
            return _error_page(request, 403, message)
        return JSONResponse(_error_body("forbidden", message), status_code=403)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
        message = "the form has expired or did not come from this site; reload and try again"
        if _wants_html(request):
            return _error_page(request, 403, message)
        return JSONResponse(
            _error_body("csrf", message + " (send the X-CSRF-Token header)"), status_code=403
        )

    @app.exception_handler(RateLimited)
    async def _rate_limited(request: Request, exc: RateLimited) -> Response:
        headers = {"Retry-After": str(exc.retry_after)}
        message = f"too many requests; try again in {exc.retry_after} seconds"
        if _wants_html(request):
            return _error_page(request, 429, message, headers)
        return JSONResponse(_error_body("rate_limited", message), status_code=429, headers=headers)

    @app.exception_handler(FirstwordError)
    async def _service_error(request: Request, exc: FirstwordError) -> Response:
        field = exc.field if isinstance(exc, InvalidInput) else None
        if _wants_html(request):
            return _error_page(request, exc.status_code, exc.message)
        code = type(exc).__name__.lower()
        return JSONResponse(_error_body(code, exc.message, field), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [_problem(err) for err in exc.errors()]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        if _wants_html(request):
            return _error_page(request, 422, f"{first['field']}: {first['message']}")
        body = _error_body(
            "invalid_input", f"{first['field']}: {first['message']}", str(first["field"])
        )
        body["error"]["problems"] = problems  # type: ignore[index]
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        message = (
            exc.detail
            if isinstance(exc.detail, str)
            else ERROR_TITLES.get(exc.status_code, "error")
        )
        if exc.status_code == 404:
            message = "there is nothing at this address"
        if _wants_html(request):
            await run_in_threadpool(_identify, request)
            return _error_page(request, exc.status_code, message, headers)
        code = ERROR_TITLES.get(exc.status_code, "error").lower().replace(" ", "_")
        return JSONResponse(
            _error_body(code, message), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        message = "something went wrong on our side; the error has been logged"
        if _wants_html(request):
            response = _error_page(request, 500, message)
        else:
            response = JSONResponse(_error_body("server_error", message), status_code=500)
        # This handler runs outside the middleware stack (Starlette's ServerErrorMiddleware).
        hsts = request.app.state.context.settings.secure_cookies
        add_security_headers(response.headers, request.url.path, hsts=hsts)
        return response


class FirstwordApp(FastAPI):
    """FastAPI with the public status page's fast path (statuspage/edge.py) in front of all of
    it: GET/HEAD of the page and its JSON skip FastAPI's per-request machinery, which costs
    several times the answer itself; every other request goes to FastAPI unchanged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.edge = PublicEdge(super().__call__, owner=self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.edge(scope, receive, send)


def create_app(context: Context) -> FastAPI:
    app = FirstwordApp(
        title="firstword",
        version=__version__,
        description=API_DESCRIPTION,
        # No Swagger UI / ReDoc: they load scripts from a CDN and run inline code, which the
        # console's Content-Security-Policy forbids (and there may be no internet). The schema
        # is served for any OpenAPI viewer or client generator.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.context = context
    app.state.rate_limiters = {}
    app.add_middleware(SecurityHeadersMiddleware, hsts=context.settings.secure_cookies)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)
    app.include_router(auth_routes.pages_router, prefix="/console")
    app.include_router(auth_routes.api_router, prefix="/api/v1")
    app.include_router(incidents_api.router, prefix="/api/v1")
    app.include_router(incidents_pages.router, prefix="/console")
    app.include_router(statuspage_maintenance_api.router, prefix="/api/v1")
    app.include_router(statuspage_console_pages.router, prefix="/console")  # compose, signs
    app.include_router(statuspage_public.router)  # "/", /api/v2, feeds, banner: public
    app.include_router(statuspage_store_pages.router)  # /stores: "Is my store affected?"
    app.include_router(statuspage_subscriptions.router)  # /subscribe, /unsubscribe (+ staff count)
    return app


def app_from_environment() -> FastAPI:
    """uvicorn factory (`firstword.web.app:app_from_environment`, factory=True): the app on a
    context built from FIRSTWORD_* settings. `firstword serve` runs every worker process, and
    the reloader's, through it; the schema is migrated by `serve` before they start."""
    return create_app(build_context())

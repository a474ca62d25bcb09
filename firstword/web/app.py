"""Assembly only: build the FastAPI app from a Context, mount every domain's routers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from firstword import __version__
from firstword.context import Context
from firstword.core.errors import FirstwordError, InvalidInput
from firstword.incidents import api as incidents_api
from firstword.incidents import pages as incidents_pages
from firstword.web import auth_routes, health
from firstword.web.deps import AuthRequired, CsrfFailed, RoleRequired
from firstword.web.security import SecurityHeadersMiddleware
from firstword.web.templating import render

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith("/console")


def _error_body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthRequired)
    async def _auth_required(request: Request, _exc: AuthRequired) -> Response:
        if _wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)
        return JSONResponse(_error_body("unauthenticated", "sign in or send a Bearer token"),
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RoleRequired)
    async def _role_required(request: Request, exc: RoleRequired) -> Response:
        message = f"this needs one of the roles: {', '.join(sorted(exc.roles))}"
        if _wants_html(request):
            return render(request, "error.html", {"status": 403, "message": message}, 403)
        return JSONResponse(_error_body("forbidden", message), status_code=403)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, _exc: CsrfFailed) -> Response:
        message = "the form has expired or did not come from this site; reload and try again"
        if _wants_html(request):
            return render(request, "error.html", {"status": 403, "message": message}, 403)
        return JSONResponse(_error_body("csrf", message), status_code=403)

    @app.exception_handler(FirstwordError)
    async def _service_error(request: Request, exc: FirstwordError) -> Response:
        field = exc.field if isinstance(exc, InvalidInput) else None
        if _wants_html(request):
            return render(request, "error.html",
                          {"status": exc.status_code, "message": exc.message},
                          exc.status_code)
        code = type(exc).__name__.lower()
        return JSONResponse(_error_body(code, exc.message, field), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
             "message": err.get("msg", "")}
            for err in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        body = _error_body("invalid_input", f"{first['field']}: {first['message']}",
                           str(first["field"]))
        body["error"]["problems"] = problems  # type: ignore[index]
        return JSONResponse(body, status_code=422)


def create_app(context: Context) -> FastAPI:
    app = FastAPI(
        title="firstword",
        version=__version__,
        description="Staff API (/api/v1, token or session) and public endpoints of firstword.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.context = context
    app.add_middleware(SecurityHeadersMiddleware)
    _install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)
    app.include_router(auth_routes.pages_router, prefix="/console")
    app.include_router(auth_routes.api_router, prefix="/api/v1")
    app.include_router(incidents_api.router, prefix="/api/v1")
    app.include_router(incidents_pages.router, prefix="/console")
    return app

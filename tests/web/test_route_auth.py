"""Generated from the route table: every staff route checks the role.

Walks every route the app serves (including routers other parts add later) and
1. classifies it as public (the short, explicit allowlist below) or staff, and requires a
   `require_role(...)` dependency on every staff route (and `rate_limited(...)` on every
   route under a public prefix);
2. calls every staff route without credentials: 401 under /api, a 303 to the sign-in page
   under /console;
3. calls every staff route that needs particular roles with a Bearer token of a user who
   holds none of them: 403.

The full sweep runs on SQLite; on PostgreSQL a sample of the routes (the auth code is the
same, the database under it differs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from firstword.core.auth.roles import Role
from firstword.web.deps import roles_of
from firstword.web.security import rate_limit_of
from tests.factories import make_user
from tests.web.conftest import bearer

# Public without exception: probes, the sign-in form, the API schema, static files.
PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/console/login"),
    ("POST", "/console/login"),
    ("GET", "/api/openapi.json"),
    ("GET", "/"),  # the public status page (rate-limited; see tests/statuspage)
}
PUBLIC_MOUNTS = {"/static"}
# Public areas later parts add (status page, feeds, subscribe, lookup, scam reports): list
# the prefix here; every route under it must be rate-limited.
# The status page's snapshot files (firstword/statuspage/public.py) and its store lookup
# (firstword/statuspage/store_pages.py).
PUBLIC_PREFIXES: tuple[str, ...] = (
    "/api/v2/",
    "/history.",
    "/banner.",
    "/status.css",
    "/stores",
    "/subscribe",  # and /unsubscribe/: firstword/statuspage/subscription_pages.py
    "/unsubscribe/",
)

SAMPLE_EVERY_ON_POSTGRESQL = 4


@dataclass(frozen=True)
class StaffRoute:
    method: str
    path: str
    url: str
    role_sets: tuple[frozenset[Role], ...]  # one per require_role found (all must pass)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def _dummy(name: str, annotation: Any) -> str:
    if annotation is int or name.endswith("_id") or name == "id":
        return "1"
    return "INC-2026-0001"


def _url(path: str, dependant: Dependant) -> str:
    params = {p.name: _dummy(p.name, p.field_info.annotation) for p in dependant.path_params}
    for sub in _walk(dependant):
        params.update({p.name: _dummy(p.name, p.field_info.annotation) for p in sub.path_params})
    url = path
    for name, value in params.items():
        url = url.replace("{" + name + "}", value)
    return url


def _is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC_ROUTES or path.startswith(PUBLIC_PREFIXES)


def classify(app: Any) -> tuple[list[StaffRoute], list[str]]:
    """(staff routes, problems): a problem is a route nobody vouched for."""
    staff: list[StaffRoute] = []
    problems: list[str] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if isinstance(route, Mount):
            if path not in PUBLIC_MOUNTS:
                problems.append(
                    f"mounted app {path} is not a staff route with require_role "
                    "and not on the public allowlist"
                )
            continue
        methods = sorted((context.methods or set()) - {"HEAD", "OPTIONS"})
        if not isinstance(route, APIRoute):
            for method in methods:
                if not _is_public(method, path):
                    problems.append(
                        f"{method} {path}: not an APIRoute, so its role check cannot be verified"
                    )
            continue
        dependant: Dependant = context.dependant
        calls = [d.call for d in _walk(dependant) if d.call is not None]
        role_sets = tuple(r for r in (roles_of(c) for c in calls) if r is not None)
        limited = any(rate_limit_of(c) for c in calls)
        for method in methods:
            if _is_public(method, path):
                if path.startswith(PUBLIC_PREFIXES) and not limited:
                    problems.append(f"{method} {path}: public route without rate_limited()")
                continue
            if not role_sets:
                problems.append(f"{method} {path}: staff route without require_role()")
                continue
            staff.append(StaffRoute(method, path, _url(path, dependant), role_sets))
    return staff, problems


def _sample(routes: list[StaffRoute], backend: str) -> list[StaffRoute]:
    return routes if backend == "sqlite" else routes[::SAMPLE_EVERY_ON_POSTGRESQL]


def test_every_route_is_public_by_name_or_checks_the_role(app):
    staff, problems = classify(app)
    assert problems == [], "\n".join(problems)
    paths = {r.path for r in staff}
    # The sweep really sees routers included by create_app, not just the app's own routes.
    assert {"/api/v1/me", "/api/v1/users", "/console/account", "/console/logout"} <= paths
    assert len(staff) >= 12


def test_staff_routes_refuse_requests_without_credentials(app, client, backend):
    staff, _ = classify(app)
    wrong = []
    for route in _sample(staff, backend):
        response = client.request(route.method, route.url, follow_redirects=False)
        if route.path.startswith("/console"):
            ok = response.status_code == 303 and response.headers["location"].startswith(
                "/console/login"
            )
        else:
            ok = response.status_code == 401
        if not ok:
            wrong.append(
                f"{route} -> {response.status_code} "
                f"{response.headers.get('location', response.text[:120])}"
            )
    assert wrong == [], "\n".join(wrong)


def _outsider(role_sets: tuple[frozenset[Role], ...]) -> Role | None:
    """A role that fails at least one of the route's role checks (never admin)."""
    for wanted in role_sets:
        if not wanted:
            continue
        candidates = sorted(set(Role) - wanted - {Role.ADMIN})
        if candidates:
            return Role.VIEWER if Role.VIEWER in candidates else candidates[0]
    return None


def test_staff_routes_refuse_the_wrong_role(app, client, session, clock, backend):
    staff, _ = classify(app)
    tokens: dict[Role, dict[str, str]] = {}
    wrong = []
    checked = 0
    for route in _sample(staff, backend):
        role = _outsider(route.role_sets)
        if role is None:
            continue  # any signed-in staff member may use it
        if role not in tokens:
            user = make_user(session, clock, roles=[role])
            tokens[role] = bearer(session, clock, user)
        response = client.request(
            route.method, route.url, headers=tokens[role], follow_redirects=False
        )
        checked += 1
        if response.status_code != 403:
            wrong.append(f"{route} as {role} -> {response.status_code} {response.text[:120]}")
    assert wrong == [], "\n".join(wrong)
    assert checked > 0


def test_the_classifier_catches_an_unguarded_route(app):
    """The check itself can fail: a staff route without require_role is reported."""

    @app.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {"oops": "no role check"}

    @app.post("/console/also-forgotten")
    def also_forgotten() -> dict[str, str]:
        return {}

    _, problems = classify(app)
    assert "GET /api/v1/forgotten: staff route without require_role()" in problems
    assert "POST /console/also-forgotten: staff route without require_role()" in problems


def test_dummy_values_fill_path_parameters():
    assert _dummy("ref", str) == "INC-2026-0001"
    assert _dummy("token_id", int) == "1"
    assert _dummy("task_id", str) == "1"


@pytest.mark.parametrize(
    "role_sets,expected",
    [
        ((frozenset({Role.ADMIN}),), Role.VIEWER),
        ((frozenset(Role) - {Role.VIEWER},), Role.VIEWER),
        ((frozenset({Role.VIEWER, Role.LEGAL}),), Role.COMMUNICATIONS),
        ((frozenset(),), None),
        ((frozenset(Role),), None),
    ],
)
def test_outsider_role(role_sets, expected):
    assert _outsider(role_sets) == expected

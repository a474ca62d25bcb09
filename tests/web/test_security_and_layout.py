"""Security headers, rate limiting, error pages, and the console layout's promises
(no inline code for the CSP, landmarks, CSRF header for htmx)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from firstword.web import templating
from firstword.web.app import create_app
from firstword.web.security import RateLimiter, rate_limit_of, rate_limited
from tests.web.conftest import sign_in

WEB = Path(templating.__file__).resolve().parent


def test_security_headers_on_pages_api_and_errors(client, viewer):
    for path in [
        "/console/login",
        "/api/v1/me",
        "/healthz",
        "/api/openapi.json",
        "/console/nowhere",
        "/static/console.css",
    ]:
        response = client.get(path)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in headers  # plain HTTP here
    assert client.get("/console/login").headers["cache-control"] == "no-store"
    assert client.get("/api/v1/me").headers["cache-control"] == "no-store"
    assert "max-age" in client.get("/static/console.css").headers["cache-control"]


def test_hsts_when_serving_https(context):
    import dataclasses

    secure = dataclasses.replace(
        context, settings=context.settings.model_copy(update={"secure_cookies": True})
    )
    with TestClient(create_app(secure), base_url="https://testserver") as client:
        assert "max-age=" in client.get("/healthz").headers["strict-transport-security"]


def test_docs_ui_is_off_and_the_schema_is_served(client):
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/openapi.json").json()["info"]["title"] == "firstword"


def test_errors_are_json_for_the_api_and_pages_for_the_console(client, viewer):
    api = client.get("/api/v1/nowhere")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    sign_in(client, viewer.email)
    page = client.get("/console/nowhere")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    assert 'aria-label="Main"' in page.text  # still signed in: the navigation is there
    wrong_method = client.delete("/api/v1/me")
    assert wrong_method.status_code == 405
    assert "GET" in wrong_method.headers["allow"]


def test_health_probes(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_rate_limiter_window():
    limiter = RateLimiter(limit=2, window=60)
    assert limiter.hit("a", now=0) is None
    assert limiter.hit("a", now=1) is None
    assert limiter.hit("a", now=2) == pytest.approx(58)
    assert limiter.hit("b", now=2) is None  # per client
    assert limiter.hit("a", now=60.5) is None  # the first hit has left the window


def test_rate_limiter_stays_bounded():
    limiter = RateLimiter(limit=1, window=60, max_keys=10)
    for n in range(100):
        limiter.hit(f"client-{n}", now=n * 100)
    assert len(limiter._hits) <= 10


def test_rate_limited_dependency_for_public_routes(context):
    import dataclasses

    app = create_app(
        dataclasses.replace(
            context,
            settings=context.settings.model_copy(update={"public_rate_limit_per_minute": 2}),
        )
    )
    limit = rate_limited("public", "public_rate_limit_per_minute")
    assert rate_limit_of(limit) == "public"

    @app.get("/public-probe", dependencies=[Depends(limit)])
    def probe() -> dict[str, str]:
        return {"ok": "yes"}

    with TestClient(app) as client:
        assert client.get("/public-probe").status_code == 200
        assert client.get("/public-probe").status_code == 200
        limited = client.get("/public-probe")
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1


def test_rate_limited_rejects_unknown_settings():
    with pytest.raises(ValueError, match="no setting"):
        rate_limited("x", "no_such_setting")


# --- layout -----------------------------------------------------------------------------


def test_templates_have_no_inline_scripts_or_styles():
    """The CSP (script-src/style-src 'self') would block them in the browser."""
    offenders = []
    for path in WEB.parent.rglob("templates/**/*.html"):
        source = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)  # not comments
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source):
            offenders.append(f"{path}: inline <script>")
        if re.search(r"<style\b", source) or re.search(r"\sstyle=", source):
            offenders.append(f"{path}: inline style")
        if re.search(r"\son[a-z]+=", source):
            offenders.append(f"{path}: inline event handler")
    assert offenders == []


def test_console_layout(client, viewer):
    sign_in(client, viewer.email)
    page = client.get("/console/account").text
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page
    assert '<nav class="mainnav" aria-label="Main">' in page
    for item in templating.CONSOLE_NAV:
        assert f'href="{item.href}"' in page
    assert "viewer@example.com" in page and "Viewer" in page  # who, with roles
    assert 'action="/console/logout"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert f'hx-headers=\'{{"X-CSRF-Token": "{csrf}"}}\'' in page
    assert re.search(r'<script src="/static/htmx.min.js\?v=\w+" defer></script>', page)
    assert re.search(r'<link rel="stylesheet" href="/static/console.css\?v=\w+">', page)
    assert '"allowEval":false' in page


def test_static_assets_are_served(client):
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx 2.0.11" in htmx.text[:300] and "0BSD" in htmx.text[:300]
    css = client.get(templating.static_url("console.css"))
    assert css.status_code == 200 and ".status--major-outage" in css.text


def test_nav_hides_entries_from_roles_that_cannot_use_them(monkeypatch):
    from firstword.core.auth.roles import Actor, Role

    monkeypatch.setattr(
        templating,
        "CONSOLE_NAV",
        [
            templating.NavItem("Incidents", "/console/incidents"),
            templating.NavItem("Notices", "/console/notices", frozenset({Role.COMMUNICATIONS})),
        ],
    )
    viewer = Actor(kind="user", name="v", roles=frozenset({Role.VIEWER}))
    comms = Actor(kind="user", name="c", roles=frozenset({Role.COMMUNICATIONS}))
    assert [i["label"] for i in templating.nav_for(viewer, "/")] == ["Incidents"]
    items = templating.nav_for(comms, "/console/notices/3")
    assert [(i["label"], i["current"]) for i in items] == [("Incidents", False), ("Notices", True)]
    assert templating.nav_for(None, "/") == []


def test_badges_pair_colour_with_words_and_icons():
    template = templating.templates.env.from_string(
        '{% from "partials/badges.html" import status_badge, severity_badge, state_badge %}'
        "{{ status_badge('partial_outage') }}|{{ severity_badge('SEV1') }}|"
        "{{ state_badge('investigating') }}|{{ status_badge('<b>') }}"
    )
    html = template.render()
    assert 'class="status status--partial-outage"' in html and "Partial outage" in html
    assert "<svg" in html and 'aria-hidden="true"' in html
    assert 'class="sev sev--sev1"' in html and "SEV1" in html
    assert "Investigating" in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_htmx_requests_after_the_session_ended_reload_the_page_at_sign_in(client):
    response = client.get(
        "/console/account",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/console/incidents"},
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/console/login?next=/console/incidents"
    assert response.text == ""


def test_server_errors_keep_the_security_headers(context):
    app = create_app(context)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "kaboom" not in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"

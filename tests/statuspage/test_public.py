"""The public router: snapshot bytes with cache headers, 304s, CORS, language negotiation,
rate limits, and no per-request reading of the incident tables."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core.clock import FrozenClock
from firstword.statuspage import public, snapshot
from firstword.statuspage.public import SHORT_CACHE, choose_language
from firstword.statuspage.snapshot import rebuild
from firstword.web.app import create_app
from tests.factories import ensure_catalogue, make_incident
from tests.statuspage.scenario import HOSTILE, SECRET_NOTE, busy_page

FILES = [
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
    "/history.atom",
    "/history.rss",
    "/banner.json",
    "/banner.js",
    "/status.css",
]


@pytest.fixture
def quiet(session: Session, clock: FrozenClock) -> None:
    ensure_catalogue(session, clock)


def _cache(client: TestClient) -> public.SnapshotCache:
    return public.cache_of(type("R", (), {"app": client.app})())  # type: ignore[arg-type]


def test_first_request_renders_then_serves_the_snapshot(client, quiet, session: Session):
    assert snapshot.list_artifacts(session) == []
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-language"] == "en"
    assert response.headers["vary"] == "Accept-Language, Accept-Encoding"
    assert response.headers["cache-control"] == SHORT_CACHE
    stored = snapshot.get_artifact(session, "index.en.html")
    assert stored is not None and response.content == stored.content
    assert response.headers["etag"] == stored.etag
    assert response.headers["etag"].startswith('"sha256-')
    assert response.headers["last-modified"] == format_datetime(stored.rendered_at, usegmt=True)
    # The page's own policy (no scripts at all), not the console's.
    from firstword.statuspage.render import PAGE_CSP

    assert response.headers["content-security-policy"] == PAGE_CSP
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("path", FILES)
def test_every_public_file_is_served_with_cache_headers(client, quiet, session, path):
    response = client.get(path)
    assert response.status_code == 200, response.text
    stored = snapshot.get_artifact(session, path.lstrip("/"))
    assert stored is not None
    assert response.content == stored.content
    assert response.headers["etag"] == stored.etag
    assert response.headers["content-type"] == stored.content_type
    long = path in ("/banner.js", "/status.css")
    assert response.headers["cache-control"] == (public.LONG_CACHE if long else SHORT_CACHE)
    assert "stale-if-error=86400" in response.headers["cache-control"]
    if path != "/status.css":
        assert response.headers["access-control-allow-origin"] == "*"


def test_conditional_requests(client, quiet):
    first = client.get("/api/v2/summary.json")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get("/api/v2/summary.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == SHORT_CACHE
    listed = client.get("/api/v2/summary.json", headers={"If-None-Match": f'"x", W/{etag}'})
    assert listed.status_code == 304
    other = client.get("/api/v2/summary.json", headers={"If-None-Match": '"sha256-other"'})
    assert other.status_code == 200 and other.content == first.content
    assert client.get("/", headers={"If-None-Match": "*"}).status_code == 304
    since = client.get("/api/v2/summary.json", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    old = client.get(
        "/api/v2/summary.json", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert old.status_code == 200
    garbage = client.get("/api/v2/summary.json", headers={"If-Modified-Since": "yesterday"})
    assert garbage.status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    both = client.get(
        "/api/v2/summary.json", headers={"If-None-Match": '"nope"', "If-Modified-Since": modified}
    )
    assert both.status_code == 200


def test_head_requests(client, quiet):
    full = client.get("/api/v2/status.json")
    head = client.head("/api/v2/status.json")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == full.headers["etag"]
    assert head.headers["content-length"] == str(len(full.content))


def test_unknown_api_path_is_404(client, quiet):
    response = client.get("/api/v2/pages.json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        (None, None, "en"),
        ("de", None, "de"),
        ("DE", "en", "de"),
        ("de-AT", None, "de"),
        (None, "de-DE,de;q=0.9,en;q=0.8", "de"),
        (None, "fr-FR, de;q=0.5, en;q=0.4", "de"),
        (None, "en;q=0.5, de;q=0.9", "de"),
        (None, "fr, it", "en"),
        (None, "de;q=0", "en"),
        ("xx", "de", "de"),  # an unknown ?lang= falls through to the header
        ("en", "de", "en"),
        (None, "*;q=0.1,,;;garbage=,de-CH", "de"),
    ],
)
def test_choose_language(query, accept, expected):
    assert choose_language(query, accept, ["de", "en"]) == expected


def test_page_language_negotiation(client, quiet, session):
    german = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert german.status_code == 200
    assert german.headers["content-language"] == "de"
    assert german.content == snapshot.get_artifact(session, "index.de.html").content
    assert 'lang="de"' in german.text
    forced = client.get("/?lang=en", headers={"Accept-Language": "de"})
    assert forced.headers["content-language"] == "en" and 'lang="en"' in forced.text
    assert client.get("/?lang=de").headers["content-language"] == "de"
    assert german.headers["etag"] != forced.headers["etag"]
    assert german.headers["vary"] == "Accept-Language, Accept-Encoding"


def test_hostile_text_is_escaped_in_html_and_plain_in_json(client, session, clock):
    busy_page(session, clock)
    page = client.get("/")
    assert "<script>alert('x')</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    summary = client.get("/api/v2/summary.json").json()
    assert summary["incidents"][0]["name"] == f"Checkout errors {HOSTILE}"
    assert summary["incidents"][0]["incident_updates"][-1]["body"].endswith(HOSTILE)
    assert SECRET_NOTE not in page.text
    banner = client.get("/banner.json").json()
    assert banner["headline"] == f"Checkout errors {HOSTILE}"


def test_a_cached_request_reads_no_table_at_all(client, quiet, context: Context):
    client.get("/api/v2/summary.json")  # loads the copy
    _cache(client).check_seconds = 3600
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(context.engine, "before_cursor_execute", record)
    try:
        for path in ("/", "/api/v2/summary.json", "/banner.json", "/history.atom"):
            assert client.get(path).status_code == 200
    finally:
        event.remove(context.engine, "before_cursor_execute", record)
    assert statements == []


def test_revalidating_reads_only_the_snapshot_table(client, quiet, context: Context):
    client.get("/")
    _cache(client).check_seconds = 0  # re-check on every request
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.lower())

    event.listen(context.engine, "before_cursor_execute", record)
    try:
        for path in ("/", "/api/v2/summary.json", "/banner.json"):
            assert client.get(path).status_code == 200
    finally:
        event.remove(context.engine, "before_cursor_execute", record)
    queries = [s for s in statements if s.lstrip().startswith("select")]
    assert queries, "the re-check did query"
    assert all("statuspage_artifacts" in s for s in queries), queries
    for table in ("incidents", "incident_updates", "incident_notes", "components", "users"):
        assert not any(f" {table}" in s.replace("statuspage_", "") for s in queries)


def test_a_new_snapshot_is_served_after_the_next_check(
    client, quiet, session: Session, clock: FrozenClock, settings
):
    before = client.get("/api/v2/status.json")
    assert before.json()["status"]["indicator"] == "none"
    make_incident(session, clock, severity="SEV1", components={"website": "major_outage"})
    assert client.get("/api/v2/status.json").content == before.content  # not rebuilt yet
    rebuild(session, clock=clock, settings=settings)
    _cache(client).checked_at = None  # as if the check interval had passed
    after = client.get("/api/v2/status.json")
    assert after.json()["status"]["indicator"] == "critical"
    assert after.headers["etag"] != before.headers["etag"]


def test_the_last_copy_is_served_when_the_database_is_down(client, quiet, monkeypatch):
    good = client.get("/api/v2/summary.json")

    def down(_session):
        raise OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(public, "_stored", down)
    _cache(client).checked_at = None
    response = client.get("/api/v2/summary.json")
    assert response.status_code == 200 and response.content == good.content


def test_a_new_day_rebuilds_the_uptime_history(client, quiet, session: Session, clock: FrozenClock):
    client.get("/")
    built_on = snapshot.get_artifact(session, snapshot.BUILT_ON)
    assert built_on is not None and built_on.content == clock.now().date().isoformat().encode()
    clock.advance(timedelta(days=1))
    cache = _cache(client)
    cache.checked_at = None
    client.get("/")
    after = snapshot.get_artifact(session, snapshot.BUILT_ON)
    assert after is not None and after.content == clock.now().date().isoformat().encode()


def test_public_routes_are_rate_limited(context: Context, quiet):
    limited = Context(
        settings=context.settings.model_copy(update={"public_rate_limit_per_minute": 3}),
        engine=context.engine,
        sessionmaker=context.sessionmaker,
        clock=context.clock,
        secret_key=context.secret_key,
        channels={},
    )
    with TestClient(create_app(limited)) as client:
        for _ in range(3):
            assert client.get("/api/v2/status.json").status_code == 200
        refused = client.get("/banner.json")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"
        assert client.get("/").status_code == 429


def test_banner_json_when_all_is_well(client, quiet):
    assert client.get("/banner.json").json()["status"] == "none"
    script = client.get("/banner.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert b"banner.json" in script.content  # it reads the document beside it

"""The public fast path (statuspage/edge.py): byte for byte and header for header the answers
of the FastAPI routes, without entering FastAPI; the same rate limit; everything else falls
through. Plus `firstword serve --server granian` end to end."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core.clock import FrozenClock
from firstword.statuspage import edge, export, public, snapshot
from firstword.statuspage.public import accepts_gzip
from firstword.web.app import create_app
from tests.conftest import free_port
from tests.factories import ensure_catalogue, make_incident

PATHS = ["/", *edge.FILES]
Answer = tuple[int, bytes, list[tuple[str, str]]]


@pytest.fixture
def busy(session: Session, clock: FrozenClock) -> None:
    ensure_catalogue(session, clock)
    make_incident(
        session, clock, title="Card payments fail", components={"website": "major_outage"}
    )


def without_edge(app: FastAPI) -> TestClient:
    """A client of the same app (same state, snapshot cache and limiters), edge left out."""

    async def fastapi_only(scope: Any, receive: Any, send: Any) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    return TestClient(fastapi_only, base_url="http://testserver")


def fetch(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Answer:
    """Status, the body as sent (not decoded), and every header."""
    with client.stream(method, url, headers=headers) as response:
        body = b"".join(response.iter_raw())
        return response.status_code, body, sorted(response.headers.multi_items())


@pytest.fixture
def spy(app: FastAPI) -> Iterator[list[str]]:
    """The paths that reached FastAPI (behind the edge)."""
    reached: list[str] = []
    inner = app.edge.app  # type: ignore[attr-defined]

    async def record(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            reached.append(scope["path"])
        await inner(scope, receive, send)

    app.edge.app = record  # type: ignore[attr-defined]
    yield reached
    app.edge.app = inner  # type: ignore[attr-defined]


VARIANTS = [
    {"Accept-Encoding": "identity"},
    {"Accept-Encoding": "gzip, deflate"},
    {"Accept-Encoding": "br;q=1, gzip;q=0"},
]


@pytest.mark.parametrize("headers", VARIANTS, ids=["identity", "gzip", "gzip-refused"])
def test_every_public_file_is_answered_as_fastapi_answers_it(
    app: FastAPI, client: TestClient, busy: None, spy: list[str], headers: dict[str, str]
):
    plain = without_edge(app)
    for path in PATHS:
        for method in ("GET", "HEAD"):
            fast = fetch(client, method, path, headers)
            assert fast[0] == 200, path
            assert fast == fetch(plain, method, path, headers), (method, path)
    assert spy == []  # not one of them entered FastAPI


def test_conditional_requests_and_languages_match_fastapi(
    app: FastAPI, client: TestClient, busy: None, spy: list[str]
):
    plain = without_edge(app)
    page = client.get("/", headers={"Accept-Encoding": "identity"})
    summary = client.get("/api/v2/summary.json")
    cases = [
        ("/", {"If-None-Match": page.headers["etag"]}),
        ("/", {"If-None-Match": f'"other", W/{page.headers["etag"]}'}),
        ("/", {"If-None-Match": "*", "Accept-Encoding": "gzip"}),
        ("/api/v2/summary.json", {"If-Modified-Since": summary.headers["last-modified"]}),
        ("/api/v2/summary.json", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}),
        ("/api/v2/summary.json", {"If-Modified-Since": "yesterday"}),
        ("/api/v2/summary.json", {"If-None-Match": '"no"', "If-Modified-Since": "x"}),
        ("/", {"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}),
        ("/?lang=de", {"Accept-Language": "en"}),
        ("/?lang=en&lang=de", {}),
        ("/?lang=xx", {"Accept-Language": "de"}),
        ("/?utm_source=mail", {"Accept-Language": "fr, *;q=0.1"}),
    ]
    statuses = []
    for path, headers in cases:
        fast = fetch(client, "GET", path, headers)
        assert fast == fetch(plain, "GET", path, headers), (path, headers)
        statuses.append(fast[0])
    assert statuses == [304, 304, 304, 304, 200, 200, 200, 200, 200, 200, 200, 200]
    assert spy == []
    german = client.get("/?lang=de")
    assert german.headers["content-language"] == "de" and 'lang="de"' in german.text
    last_wins = client.get("/?lang=en&lang=de")  # as Starlette's query_params.get reads it
    assert last_wins.headers["content-language"] == "de"


def test_a_304_carries_validators_but_no_body_or_encoding(client: TestClient, busy: None):
    first = client.get("/", headers={"Accept-Encoding": "gzip"})
    again = client.get(
        "/", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == public.SHORT_CACHE
    assert again.headers["vary"] == "Accept-Language, Accept-Encoding"
    assert "content-encoding" not in again.headers and "content-length" not in again.headers


def test_gzip_is_prepared_once_and_sent_when_accepted(
    app: FastAPI, client: TestClient, busy: None, session: Session
):
    status, body, headers = fetch(client, "GET", "/", {"Accept-Encoding": "gzip"})
    stored = snapshot.get_artifact(session, "index.en.html")  # rendered on that first request
    assert stored is not None
    got = dict(headers)
    assert status == 200 and got["content-encoding"] == "gzip"
    assert gzip.decompress(body) == stored.content
    assert int(got["content-length"]) == len(body) < len(stored.content) / 5
    assert got["etag"] == stored.etag  # the same bytes behind both encodings; no ranges
    cache = public.cache_in(app.state)
    prepared = cache.prepared["index.en.html"]
    assert prepared.gzip_body == body
    head = fetch(client, "HEAD", "/", {"Accept-Encoding": "gzip"})
    assert head[1] == b"" and dict(head[2])["content-length"] == got["content-length"]
    cache.checked_at = None  # re-checked: nothing changed, so nothing is compressed again
    assert client.get("/").status_code == 200
    assert cache.prepared["index.en.html"] is prepared
    # A small file is not worth compressing: no variant, and nothing varies.
    status, body, headers = fetch(client, "GET", "/api/v2/status.json", {"Accept-Encoding": "gzip"})
    assert "content-encoding" not in dict(headers) and "vary" not in dict(headers)
    assert b'"indicator"' in body


def test_head_sends_headers_only(app: FastAPI, client: TestClient, busy: None, spy: list[str]):
    """At the ASGI level (test clients drop HEAD bodies themselves, servers may not)."""
    full = client.get("/", headers={"Accept-Encoding": "gzip"})
    public.cache_in(app.state).check_seconds = 3600
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"accept-encoding", b"gzip")],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    client.portal.call(app, scope, receive, send)  # type: ignore[union-attr]
    start, body = messages
    assert start["status"] == 200 and body["body"] == b""
    headers = {name.decode(): value.decode() for name, value in start["headers"]}
    assert headers["content-encoding"] == "gzip"
    assert headers["content-length"] == full.headers["content-length"]
    assert spy == []


def test_the_export_carries_the_same_gzip_copies(
    app: FastAPI, client: TestClient, busy: None, session: Session
):
    assert client.get("/").status_code == 200  # renders the snapshot, loads the copy
    files = export.site_files(snapshot.list_artifacts(session))
    prepared = public.cache_in(app.state).prepared
    compressed = sorted(path.removesuffix(".gz") for path in files if path.endswith(".gz"))
    assert "index.en.html" in compressed and "index.html" in compressed
    assert "api/v2/summary.json" in compressed and "api/v2/status.json" not in compressed
    for path in compressed:
        content, at = files[path]
        assert files[f"{path}.gz"] == (gzip.compress(content, 9, mtime=0), at)
        if path in prepared:  # the app sends the very same bytes
            assert prepared[path].gzip_body == files[f"{path}.gz"][0]
    nginx = files["nginx.conf"][0].decode()
    assert "gzip_static on;" in nginx and "gzip_vary on;" in nginx
    assert "if (" not in nginx  # inside `if`, nginx drops try_files and add_header
    # nginx drops server-level add_header in a location with its own: each repeats them.
    locations = nginx.split("location ")[1:]
    with_headers = [block for block in locations if "add_header Cache-Control" in block]
    assert len(with_headers) == 4  # the page, /stores and /subscribe, JSON and feeds, assets
    assert all("add_header X-Content-Type-Options nosniff always;" in b for b in with_headers)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("GZip, deflate", True),
        ("x-gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("*", True),
        ("br, *;q=0.2", True),
        ("identity", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip;q=0, *", False),  # named codings win over the wildcard
        ("*;q=0", False),
        ("gzip;q=nonsense", False),
        ("gzip;q=2", False),
        ("", False),
    ],
)
def test_accepts_gzip(header: str, expected: bool):
    assert accepts_gzip(header) is expected


def test_everything_else_falls_through_to_fastapi(client: TestClient, busy: None, spy: list[str]):
    assert client.get("/api/v2/pages.json").status_code == 404  # not a Statuspage endpoint
    assert client.get("/index.en.html").status_code == 404  # files are served by their URL only
    assert client.post("/").status_code == 405
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v2/summary.json").status_code == 200
    assert spy == ["/api/v2/pages.json", "/index.en.html", "/", "/readyz"]


def test_one_request_rechecks_while_the_others_serve_their_copy(
    app: FastAPI, client: TestClient, busy: None, context: Context
):
    assert client.get("/").status_code == 200  # loads the copy
    cache = public.cache_in(app.state)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(context.engine, "before_cursor_execute", record)
    try:
        cache.checked_at = time.monotonic() - 60  # the check is due ...
        app.edge._rechecking = True  # type: ignore[attr-defined]  # ... and under way
        assert client.get("/api/v2/summary.json").status_code == 200
        assert statements == [] and cache.due()
        app.edge._rechecking = False  # type: ignore[attr-defined]
        assert client.get("/api/v2/summary.json").status_code == 200
        assert any("statuspage_artifacts" in s for s in statements) and not cache.due()
    finally:
        event.remove(context.engine, "before_cursor_execute", record)


def test_with_nothing_to_serve_the_routes_answer(
    context: Context, busy: None, monkeypatch: pytest.MonkeyPatch
):
    def down(_session: Session) -> dict[str, str]:
        raise OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(public, "_stored", down)
    with TestClient(create_app(context)) as client:
        response = client.get("/")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "not_ready"
        assert response.headers["retry-after"] == "5"


def _limited(context: Context, per_minute: int) -> FastAPI:
    return create_app(
        Context(
            settings=context.settings.model_copy(
                update={"public_rate_limit_per_minute": per_minute}
            ),
            engine=context.engine,
            sessionmaker=context.sessionmaker,
            clock=context.clock,
            secret_key=context.secret_key,
            channels={},
        )
    )


def test_the_rate_limit_is_the_public_routes_own(context: Context, busy: None):
    app = _limited(context, 3)
    with TestClient(app) as client:
        for path in ("/", "/api/v2/summary.json", "/banner.json"):
            assert client.get(path).status_code == 200
        refused = client.get("/")  # refused by the edge
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"
        # One window with the routes behind it (same bucket, same limiter) ...
        assert client.get("/subscribe").status_code == 429
        # ... and the same answer as theirs.
        theirs = without_edge(app).get("/api/v2/status.json")
        assert theirs.status_code == 429
        assert theirs.content == refused.content
        assert sorted(theirs.headers.multi_items()) == sorted(refused.headers.multi_items())
    # Another client has a window of its own.
    with TestClient(app, client=("203.0.113.9", 40000)) as other:
        assert other.get("/").status_code == 200


# --- `firstword serve --server granian` -------------------------------------------------------


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def test_serve_under_granian(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRSTWORD_")}
    env |= {"COLUMNS": "200", "FIRSTWORD_PUBLIC_RATE_LIMIT_PER_MINUTE": "3"}
    command = [sys.executable, "-m", "firstword", "--data-dir", str(tmp_path / "data"), "serve"]
    command += ["--no-worker", "--port", str(port), "--server", "granian"]
    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if _get(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve --server granian did not come up"
                time.sleep(0.2)
        # The page, through the edge, gzip-encoded (the first request renders the snapshot).
        client_a = {"X-Forwarded-For": "203.0.113.1", "Accept-Encoding": "gzip"}
        status, body, headers = _get(f"{base}/", client_a)
        assert status == 200, body
        assert headers["content-encoding"] == "gzip" and headers["content-language"] == "en"
        assert b'lang="en"' in gzip.decompress(body)
        assert "nosniff" in headers["x-content-type-options"]
        # X-Forwarded-For from the trusted local proxy names the client for the rate limit.
        assert _get(f"{base}/api/v2/summary.json", client_a)[0] == 200
        assert _get(f"{base}/banner.json", client_a)[0] == 200
        assert _get(f"{base}/banner.json", client_a)[0] == 429
        assert _get(f"{base}/", {"X-Forwarded-For": "203.0.113.2"})[0] == 200
        # The rest of the app is there too.
        status, body, _ = _get(f"{base}/console/login")
        assert status == 200 and b"Sign in" in body
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)

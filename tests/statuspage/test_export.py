"""`firstword statuspage export`: the public site as static files that a plain static server
serves, also once the app and its database are gone."""

from __future__ import annotations

import functools
import json
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import firstword.clisupport as clisupport
from firstword.context import build_context
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock, SystemClock
from firstword.core.db import transaction
from firstword.core.errors import InvalidInput
from firstword.core.migrate import upgrade
from firstword.core.settings import Settings
from firstword.statuspage import export, snapshot
from firstword.statuspage.cli import app as statuspage_cli
from firstword.statuspage.snapshot import rebuild
from tests.factories import ensure_catalogue, make_incident

Invoke = Callable[..., Result]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Python's plain static file server on a loopback port (no app, no database)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        return response.status, response.read(), dict(response.headers)


def test_export_writes_the_whole_site(session: Session, clock: FrozenClock, settings, tmp_path):
    ensure_catalogue(session, clock)
    incident = make_incident(session, clock, components={"website": "major_outage"})
    rebuild(session, clock=clock, settings=settings)
    report = export.export_site(session, tmp_path / "site")
    site = tmp_path / "site"
    stored = {a.path: a for a in snapshot.list_artifacts(session)}
    assert snapshot.BUILT_ON not in stored  # internal, not exported
    for path, artifact in stored.items():
        written = site / path
        assert written.read_bytes() == artifact.content, path
        assert written.stat().st_mtime == pytest.approx(artifact.rendered_at.timestamp())
    assert (site / "index.html").read_bytes() == stored["index.en.html"].content
    assert (site / export.MARKER).exists()
    assert not (site / "_meta").exists()
    headers = (site / "_headers").read_text()
    assert "/api/v2/*\n  Cache-Control: public, max-age=10" in headers
    assert "Access-Control-Allow-Origin: *" in headers
    nginx = (site / "nginx.conf").read_text()
    assert "try_files /index.$firstword_lang.html /index.html =404;" in nginx
    assert "(?<l>de|en)" in nginx
    assert report.languages == ("de", "en")
    # + index.html, stores/index.html, subscribe/index.html, _headers, nginx.conf, marker
    assert report.files == len(stored) + 6
    assert (site / "stores/index.html").read_bytes() == stored["stores.en.html"].content
    summary = json.loads((site / "api/v2/summary.json").read_text())
    assert summary["incidents"][0]["id"] == incident.ref
    # Nothing is left beside the site.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_export_serves_from_a_plain_static_server(
    session: Session, clock: FrozenClock, settings, tmp_path
):
    ensure_catalogue(session, clock)
    make_incident(
        session, clock, title="Tills offline in Leeds", components={"stores-uk": "major_outage"}
    )
    rebuild(session, clock=clock, settings=settings)
    export.export_site(session, tmp_path / "site")
    with static_server(tmp_path / "site") as base:
        status, body, headers = fetch(f"{base}/index.html")
        assert status == 200 and headers["Content-type"].startswith("text/html")
        assert b"Tills offline in Leeds" in body
        status, body, _ = fetch(f"{base}/")  # the directory index is the English page
        assert b'lang="en"' in body
        status, body, headers = fetch(f"{base}/api/v2/summary.json")
        assert status == 200 and headers["Content-type"] == "application/json"
        assert json.loads(body)["status"]["indicator"] == "critical"
        assert fetch(f"{base}/index.de.html")[0] == 200
        assert fetch(f"{base}/status.css")[0] == 200
        # The page's links work without the app: /stores lists every store, affected first;
        # /subscribe says where subscribing happens (the app) and offers the feeds.
        status, body, _ = fetch(f"{base}/stores/")
        stores = body.decode()
        assert status == 200 and "Leeds" in stores and "cannot search" in stores
        assert stores.index("Leeds") < stores.index("Berlin")  # affected (GB) before DE
        assert stores.count("Major outage") >= 1
        status, body, _ = fetch(f"{base}/subscribe/")
        subscribe = body.decode()
        assert status == 200 and f"{settings.public_base_url}/subscribe?lang=en" in subscribe
        assert 'href="/history.atom"' in subscribe


def test_re_export_replaces_the_site_and_refuses_foreign_directories(
    session: Session, clock: FrozenClock, settings, tmp_path
):
    ensure_catalogue(session, clock)
    rebuild(session, clock=clock, settings=settings)
    site = tmp_path / "site"
    export.export_site(session, site)
    (site / "stale.txt").write_text("from an older export")
    export.export_site(session, site)
    assert not (site / "stale.txt").exists() and (site / "index.html").exists()

    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(InvalidInput, match="not a firstword export"):
        export.export_site(session, foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"
    with pytest.raises(InvalidInput, match="not a directory"):
        export.export_site(session, foreign / "thesis.tex")


def test_export_needs_a_snapshot(session: Session, tmp_path):
    with pytest.raises(InvalidInput, match="nothing rendered yet"):
        export.export_site(session, tmp_path / "site")


# --- through the CLI, on its own SQLite database ------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    monkeypatch.setenv("FIRSTWORD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FIRSTWORD_SECRET_KEY", "cli-test-secret")
    monkeypatch.delenv("FIRSTWORD_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables unwrapped

    def reset() -> None:
        if clisupport._context is not None:
            clisupport._context.close()
        clisupport._context = None
        clisupport._overrides.clear()

    runner = CliRunner()

    def invoke(*args: str) -> Result:
        reset()
        return runner.invoke(statuspage_cli, list(args))

    yield invoke
    reset()


def test_cli_export_survives_the_database(cli: Invoke, tmp_path: Path):
    """Measured (c): with the app and the database gone, the exported page still serves."""
    settings = Settings(data_dir=tmp_path / "data", secret_key="cli-test-secret")
    context = build_context(settings, clock=SystemClock(), channels={})
    upgrade(context.engine)
    with transaction(context.sessionmaker) as session:
        ensure_catalogue(session, context.clock)
        make_incident(
            session,
            context.clock,
            actor=system_actor("tests"),
            title="Online checkout is down",
            components={"online-checkout": "major_outage"},
        )
    context.close()

    result = cli("rebuild")
    assert result.exit_code == 0, result.output
    assert "status page rendered" in result.output
    site = tmp_path / "public-site"
    result = cli("export", str(site))
    assert result.exit_code == 0, result.output
    assert "exported" in result.output and "de, en" in result.output

    # The app and the database go away.
    if clisupport._context is not None:
        clisupport._context.close()
        clisupport._context = None
    database = tmp_path / "data" / "firstword.db"
    for path in (
        database,
        database.with_name("firstword.db-wal"),
        database.with_name("firstword.db-shm"),
    ):
        if path.exists():
            os.remove(path)
    assert not database.exists()

    with static_server(site) as base:
        status, body, _ = fetch(f"{base}/index.html")
        assert status == 200 and b"Online checkout is down" in body
        status, body, _ = fetch(f"{base}/api/v2/summary.json")
        assert json.loads(body)["incidents"][0]["name"] == "Online checkout is down"
        status, body, _ = fetch(f"{base}/banner.json")
        assert json.loads(body)["headline"] == "Online checkout is down"


def test_cli_maintenance_commands(cli: Invoke):
    result = cli(
        "maintenance",
        "schedule",
        "--title",
        "Till software update",
        "--from",
        "2099-01-01T02:00:00Z",
        "--until",
        "2099-01-01T04:00:00Z",
        "--component",
        "nonexistent",
    )
    assert result.exit_code == 1 and "unknown component" in result.output
    result = cli(
        "maintenance",
        "schedule",
        "--title",
        "Till software update",
        "--from",
        "2099-01-01T02:00:00Z",
        "--until",
        "2099-01-01T01:00:00Z",
    )
    assert result.exit_code == 1 and "must be after scheduled_for" in result.output
    result = cli(
        "maintenance",
        "schedule",
        "--title",
        "Till software update",
        "--from",
        "2099-01-01T02:00:00Z",
        "--until",
        "2099-01-01T04:00:00Z",
    )
    assert result.exit_code == 0, result.output
    ref = result.output.split()[0]
    assert ref.startswith("MNT-")
    assert cli("maintenance", "start", ref).exit_code == 0
    result = cli("maintenance", "cancel", ref)
    assert result.exit_code == 1 and "cannot move from in_progress to cancelled" in result.output
    assert cli("maintenance", "complete", ref, "--message", "All done.").exit_code == 0
    listed = cli("maintenance", "list")
    assert ref in listed.output and "completed" in listed.output

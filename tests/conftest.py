"""Shared fixtures: a database on each backend, a frozen clock, a context, an app client,
an SMTP sink, a live server and a headless browser.

Backends: every test that uses `db_url` (directly or through `context`/`session`) runs on the
embedded SQLite and on PostgreSQL. PostgreSQL tests skip with a reason when the server is
not reachable, unless FIRSTWORD_REQUIRE_POSTGRES=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from firstword.context import Context
from firstword.core.clock import FrozenClock
from firstword.core.db import make_engine
from firstword.core.migrate import upgrade
from firstword.core.settings import Settings
from firstword.metadata import target_metadata

POSTGRES_URL = os.environ.get(
    "FIRSTWORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("FIRSTWORD_REQUIRE_POSTGRES") == "1"
REQUIRE_BROWSER = os.environ.get("FIRSTWORD_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("FIRSTWORD_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BACKENDS = ["sqlite", "postgresql"]


def _skip_or_fail(reason: str, required: bool) -> None:
    if required:
        pytest.fail(f"{reason} (required in this run)")
    pytest.skip(reason)


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"


def _reset_postgres(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        conn.commit()


@pytest.fixture(scope="session")
def migrated_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One migrated database per backend for the whole run (created lazily)."""
    engines: dict[str, Any] = {}
    yield engines
    for engine in engines.values():
        if isinstance(engine, Engine):
            engine.dispose()


def _engine_for(backend: str, engines: dict[str, Any], tmp: pytest.TempPathFactory) -> Engine:
    if backend in engines:
        value = engines[backend]
        if isinstance(value, str):
            _skip_or_fail(value, REQUIRE_POSTGRES)
        return value  # type: ignore[no-any-return]
    if backend == "sqlite":
        path = tmp.mktemp("sqlite") / "test.db"
        engine = make_engine(f"sqlite:///{path}")
    else:
        problem = _postgres_reachable()
        if problem:
            engines[backend] = problem
            _skip_or_fail(problem, REQUIRE_POSTGRES)
        engine = make_engine(POSTGRES_URL)
        _reset_postgres(engine)
    upgrade(engine)
    engines[backend] = engine
    return engine


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(
    backend: str, migrated_engines: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Engine:
    return _engine_for(backend, migrated_engines, tmp_path_factory)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Settings:
    url = POSTGRES_URL if backend == "postgresql" else f"sqlite:///{tmp_path / 'unused.db'}"
    return Settings(data_dir=tmp_path / "data", database_url=url, secret_key="test-secret-key")


@pytest.fixture
def context(engine: Engine, settings: Settings, clock: FrozenClock) -> Iterator[Context]:
    """A Context whose sessions all live inside one outer transaction that is rolled back
    after the test: services and routes may commit (savepoints) and nothing persists."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    ctx = Context(
        settings=settings,
        engine=engine,
        sessionmaker=factory,
        clock=clock,
        secret_key=settings.secret_key,
        channels={},
    )
    try:
        yield ctx
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def session(context: Context) -> Iterator[Session]:
    with context.sessionmaker() as db:
        yield db


def _truncate_all(engine: Engine) -> None:
    tables = [t.name for t in reversed(target_metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def committing_context(engine: Engine, settings: Settings, clock: FrozenClock) -> Iterator[Context]:
    """A Context on the real engine, for tests where commits are the point (outbox workers,
    SKIP LOCKED, live servers). Tables are emptied before and after."""
    _truncate_all(engine)
    ctx = Context(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker(bind=engine, expire_on_commit=False),
        clock=clock,
        secret_key=settings.secret_key,
        channels={},
    )
    try:
        yield ctx
    finally:
        _truncate_all(engine)


# --- web ----------------------------------------------------------------------------------


@pytest.fixture
def app(context: Context) -> Any:
    from firstword.web.app import create_app

    return create_app(context)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(committing_context: Context) -> Iterator[str]:
    """The real app under uvicorn on a loopback port, on committed data."""
    import uvicorn

    from firstword.web.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(committing_context),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _skip_or_fail(
            f"Chromium not found at {CHROMIUM} (apt-get install chromium)", REQUIRE_BROWSER
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("playwright is not installed", REQUIRE_BROWSER)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# --- SMTP ---------------------------------------------------------------------------------


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": list(envelope.rcpt_tos),
                    "data": bytes(envelope.original_content or envelope.content),
                }
            )
        return "250 OK"

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    try:
        yield sink
    finally:
        sink.controller.stop()


# --- PDF (WeasyPrint) ---------------------------------------------------------------------


@pytest.fixture
def pdf_ready() -> None:
    """WeasyPrint needs Pango: skip on a machine without it, fail where CI requires it."""
    from firstword.statuspage import signage

    try:
        signage.load_weasyprint()
    except signage.PdfUnavailable as exc:
        _skip_or_fail(exc.message, os.environ.get("FIRSTWORD_REQUIRE_PDF") == "1")

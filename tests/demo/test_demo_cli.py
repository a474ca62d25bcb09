"""End to end: `firstword demo --fast --no-serve` into a temporary data directory, then what it
left behind - Parquet files, the two incidents, their clocks - and how it guards the directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from firstword import clisupport
from firstword.cli import app
from firstword.context import build_context
from firstword.core import audit
from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.core.clock import SystemClock
from firstword.core.migrate import upgrade
from firstword.core.settings import Settings
from firstword.demo import runner, scenario
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentRead
from tests.demo.test_retailer import CUSTOMER_COLUMNS, ORDER_COLUMNS, STORE_COLUMNS

PASSWORD = "a demo password"


def _reset_cli_state() -> None:
    if clisupport._context is not None:
        clisupport._context.close()
    clisupport._context = None
    clisupport._overrides.clear()


def invoke(data_dir: Path, *args: str, database_url: str | None = None) -> Any:
    """Run the CLI as a user would, with FIRSTWORD_DATA_DIR pointing at `data_dir`."""
    _reset_cli_state()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIRSTWORD_DATA_DIR", str(data_dir))
        if database_url is None:
            mp.delenv("FIRSTWORD_DATABASE_URL", raising=False)
        else:
            mp.setenv("FIRSTWORD_DATABASE_URL", database_url)
        try:
            return CliRunner().invoke(app, list(args), catch_exceptions=False)
        finally:
            _reset_cli_state()


def _settings(data_dir: Path, database_url: str | None = None) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url)


def _incidents(settings: Settings) -> dict[str, IncidentRead]:
    context = build_context(settings, channels={})
    try:
        with context.sessionmaker() as session:
            page = incidents.list_incidents(session, clock=context.clock)
            return {
                i.kind.value: incidents.get_incident(session, clock=context.clock, ref=i.ref)
                for i in page.items
            }
    finally:
        context.close()


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    result = invoke(data_dir, "demo", "--fast", "--no-serve", "--password", PASSWORD)
    yield data_dir, result


def test_the_demo_runs_and_says_what_happens(played: tuple[Path, Any]) -> None:
    _, result = played
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # Rich wraps lines to the terminal width
    assert "Checkout starts failing" in out
    assert "Time to acknowledge: 12 min." in out
    assert "customer data breach" in out.lower()
    assert "admin@example.com" in out and PASSWORD in out
    assert "Browse it later with firstword serve" in out


def test_the_parquet_files_have_the_expected_rows_and_columns(played: tuple[Path, Any]) -> None:
    data_dir, _ = played
    demo_dir = data_dir / "demo"
    customers = pq.read_table(demo_dir / "customers.parquet")
    orders = pq.read_table(demo_dir / "orders.parquet")
    stores = pq.read_table(demo_dir / "stores.parquet")
    assert customers.num_rows == runner.FAST_CUSTOMERS
    assert stores.num_rows == 65
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    assert manifest["counts"] == {
        "stores": 65,
        "customers": runner.FAST_CUSTOMERS,
        "orders": orders.num_rows,
    }
    assert orders.num_rows > 2 * runner.FAST_CUSTOMERS
    assert (customers.column_names, orders.column_names, stores.column_names) == (
        CUSTOMER_COLUMNS,
        ORDER_COLUMNS,
        STORE_COLUMNS,
    )
    start = datetime.fromisoformat(manifest["as_of"])
    assert manifest["history_end"] == (start + scenario.LENGTH).isoformat()
    # The outage is in the data: no web or app orders while they were shut down.
    shut = [
        o
        for o in orders.to_pylist()
        if start + timedelta(hours=2) <= o["placed_at"] < start + timedelta(hours=48)
        and o["channel"] in ("web", "app")
    ]
    assert shut == []
    marker = runner.read_marker(demo_dir)
    assert marker["status"] == "complete" and "incidents.summary" in marker["steps"]


def test_the_database_holds_the_two_incidents_as_scripted(played: tuple[Path, Any]) -> None:
    data_dir, _ = played
    found = _incidents(_settings(data_dir))
    assert set(found) == {"outage", "customer_data_breach"}
    outage, breach = found["outage"], found["customer_data_breach"]
    start = outage.detected_at

    assert (outage.severity.value, outage.state.value) == ("SEV1", "resolved")
    assert outage.clock.time_to_acknowledge_seconds == 12 * 60
    assert outage.clock.contained_at == start + timedelta(hours=30)
    assert outage.clock.resolved_at == start + timedelta(days=3)
    assert {c.key: c.status.value for c in outage.components} == {
        "online-checkout": "operational",
        "mobile-app": "operational",
        "click-and-collect": "operational",
    }
    assert len(outage.updates) == 17
    assert {r.role.value for r in outage.roles} == {
        "incident_commander",
        "communications",
        "customer_service",
        "security",
    }
    open_tasks = [t.title for t in outage.tasks if t.done_at is None]
    assert len(outage.tasks) == 11 and len(open_tasks) == 1
    assert "post-incident review" in open_tasks[0].lower()
    assert any(breach.ref in n.body for n in outage.notes)

    assert (breach.severity.value, breach.state.value) == ("SEV1", "monitoring")
    assert breach.detected_at == start + timedelta(hours=6)
    assert breach.clock.time_to_acknowledge_seconds == 2 * 3600
    assert breach.clock.customers_notified_at == start + timedelta(hours=20)
    assert breach.clock.time_to_notify_seconds == 14 * 3600
    assert breach.clock.resolved_at is None
    assert {c.value for c in breach.data_categories} == {
        "name",
        "email",
        "phone",
        "postal_address",
        "date_of_birth",
        "order_history",
    }
    assert breach.playbook == "customer-data-breach"
    assert sum(1 for t in breach.tasks if t.done_at is not None) == 10
    assert any(outage.ref in n.body for n in breach.notes)


def test_every_promise_is_kept_or_recorded_as_missed(played: tuple[Path, Any]) -> None:
    """Each update's "Next update by HH:MM" is the promise the page shows (the cadence uses
    it), and the next update comes by then, except the one the scheduler recorded as a miss
    (T+2:30 promised the SEV1 half hour; the next update came at T+4:00)."""
    data_dir, _ = played
    settings = _settings(data_dir)
    outage = _incidents(settings)["outage"]
    context = build_context(settings, channels={})
    try:
        with context.sessionmaker() as session:
            misses = incidents.cadence_misses(session, ref=outage.ref)
    finally:
        context.close()
    assert [(m.due_at - outage.detected_at, m.first_update) for m in misses] == [
        (timedelta(hours=3), False)
    ]
    updates = sorted(outage.updates, key=lambda u: u.posted_at)
    promises = broken = 0
    for current, following in zip(updates, updates[1:], strict=False):
        match = re.search(r"Next update by (\d\d):(\d\d) UTC", current.body)
        if match is None:
            continue
        promised = current.posted_at.replace(
            hour=int(match.group(1)), minute=int(match.group(2)), second=0, microsecond=0
        )
        if promised <= current.posted_at:
            promised += timedelta(days=1)
        promises += 1
        if following.posted_at > promised:
            broken += 1
            assert promised in {m.due_at for m in misses}, (current.body, following.posted_at)
    assert promises >= 12 and broken == 1
    assert "Next update" not in updates[-1].body  # the resolution promises nothing more


def test_staff_can_sign_in_with_the_printed_password_and_the_audit_chain_holds(
    played: tuple[Path, Any],
) -> None:
    data_dir, _ = played
    context = build_context(_settings(data_dir), channels={})
    try:
        with context.sessionmaker() as session, session.begin():
            emails = {u.email for u in auth.list_users(session)}
            assert emails == {email for _, email, _, _ in runner.STAFF}
            signed = auth.sign_in(
                session, clock=SystemClock(), email="admin@example.com", password=PASSWORD, hours=1
            )
            assert "admin" in signed.actor.roles
            report = audit.verify_chain(session)
            assert report.ok and report.entries > 50
    finally:
        context.close()


def test_a_second_run_is_refused_and_reset_replaces_only_what_the_demo_made(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = invoke(data_dir, "demo", "--customers", "300", "--no-serve")
    assert first.exit_code == 0, first.output
    (data_dir / "notes.txt").write_text("mine")
    (data_dir / "demo" / "keep.txt").write_text("mine too")

    again = invoke(data_dir, "demo", "--customers", "300", "--no-serve")
    assert again.exit_code == 1
    said = " ".join(again.output.split())  # Rich wraps long paths at the terminal's width
    assert "already holds a demo" in said and "--reset" in said

    reset = invoke(data_dir, "demo", "--customers", "300", "--no-serve", "--reset")
    assert reset.exit_code == 0, reset.output
    assert (data_dir / "notes.txt").read_text() == "mine"
    assert (data_dir / "demo" / "keep.txt").read_text() == "mine too"
    assert len(_incidents(_settings(data_dir))) == 2  # a fresh database, not four incidents
    # A random password per run, printed each time.
    passwords = [
        line.split(":", 1)[1].strip()
        for result in (first, reset)
        for line in result.output.splitlines()
        if "Password for every demo" in line
    ]
    assert len(passwords) == 2 and passwords[0] != passwords[1]


def test_a_directory_with_real_data_is_never_used(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = _settings(data_dir)
    context = build_context(settings, channels={})
    try:
        upgrade(context.engine)
        with context.sessionmaker() as session, session.begin():
            auth.create_user(
                session,
                clock=SystemClock(),
                actor=system_actor("tests"),
                email="someone@example.org",
                name="Someone",
                password="a real password",
                roles=["admin"],
            )
    finally:
        context.close()
    for extra in ((), ("--reset",)):
        result = invoke(data_dir, "demo", "--customers", "300", "--no-serve", *extra)
        assert result.exit_code == 1
        assert "not a demo" in result.output
    assert not (data_dir / "demo").exists()
    context = build_context(settings, channels={})
    try:
        with context.sessionmaker() as session:
            assert [u.email for u in auth.list_users(session)] == ["someone@example.org"]
            assert _count_incidents(session) == 0
    finally:
        context.close()


def _count_incidents(session: Session) -> int:
    return incidents.list_incidents(session, clock=SystemClock()).total


def test_an_unfinished_demo_is_refused_too(tmp_path: Path) -> None:
    demo_dir = tmp_path / "data" / "demo"
    demo_dir.mkdir(parents=True)
    (demo_dir / runner.MARKER).write_text(json.dumps({"status": "running"}))
    result = invoke(tmp_path / "data", "demo", "--fast", "--no-serve")
    assert result.exit_code == 1
    assert "already holds a demo (unfinished)" in " ".join(result.output.split())


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    result = invoke(tmp_path / "data", "demo", "--fast", "--no-serve", "--password", "short")
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output
    assert not (tmp_path / "data").exists()


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """A database of its own on the test server (the demo commits, so it must not share the
    suite's database), dropped afterwards."""
    import os
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _postgres_reachable, _skip_or_fail

    problem = _postgres_reachable()
    if problem:
        _skip_or_fail(problem, REQUIRE_POSTGRES)
    name = f"fw_demo_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.mark.postgresql
def test_the_demo_on_postgresql_and_reset_needs_yes(tmp_path: Path, scratch_postgres: str) -> None:
    data_dir = tmp_path / "data"
    first = invoke(
        data_dir, "demo", "--customers", "300", "--no-serve", database_url=scratch_postgres
    )
    assert first.exit_code == 0, first.output
    settings = _settings(data_dir, scratch_postgres)
    found = _incidents(settings)
    assert {k: v.state.value for k, v in found.items()} == {
        "outage": "resolved",
        "customer_data_breach": "monitoring",
    }
    assert found["outage"].clock.time_to_acknowledge_seconds == 12 * 60

    refused = invoke(
        data_dir,
        "demo",
        "--customers",
        "300",
        "--no-serve",
        "--reset",
        database_url=scratch_postgres,
    )
    assert refused.exit_code == 1
    assert "--yes" in refused.output
    assert len(_incidents(settings)) == 2

    reset = invoke(
        data_dir,
        "demo",
        "--customers",
        "300",
        "--no-serve",
        "--reset",
        "--yes",
        database_url=scratch_postgres,
    )
    assert reset.exit_code == 0, reset.output
    again = _incidents(settings)
    assert len(again) == 2
    assert {i.ref for i in again.values()} == {i.ref for i in found.values()}  # numbering anew


# --- serving --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_then_serves_the_console_and_api_on_loopback(tmp_path: Path) -> None:
    """The real command in its own process: play, then serve; sign in with the printed
    password and read the incidents through the API."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from tests.conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "FIRSTWORD_DATABASE_URL"}
    env["FIRSTWORD_DATA_DIR"] = str(tmp_path / "data")
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firstword",
            "demo",
            "--customers",
            "300",
            "--port",
            str(port),
            "--password",
            PASSWORD,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "demo.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo never started serving"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=10) as client:
            form = client.get("/console/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            signed_in = client.post(
                "/console/login",
                data={
                    "email": "alex.morgan@example.com",
                    "password": PASSWORD,
                    "csrf_token": token.group(1),
                },
            )
            assert signed_in.status_code == 303
            listed = client.get("/api/v1/incidents")
            assert listed.status_code == 200
            assert {i["kind"]: i["state"] for i in listed.json()["items"]} == {
                "outage": "resolved",
                "customer_data_breach": "monitoring",
            }
        printed = (tmp_path / "demo.log").read_text()
        assert f"{base}/console" in printed and PASSWORD in printed
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

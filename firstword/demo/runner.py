"""Running the demo: guard the data directory, generate the retailer, set up the staff, play
the steps on a FrozenClock.

The data directory is marked as a demo by DATA_DIR/demo/demo-run.json, written before
anything else. Without --reset, a marked directory is refused. A directory whose database
already holds firstword data but has no marker is always refused: the demo never mixes into
real data. --reset deletes only what the demo created: its files in DATA_DIR/demo/ and, with
the default database, DATA_DIR/firstword.db (plus its -wal/-shm/-journal files). With
FIRSTWORD_DATABASE_URL set (PostgreSQL, or SQLite elsewhere), --reset also needs --yes and
then drops firstword's tables in that database (Alembic downgrade to base) before recreating
them.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import make_url

from firstword.context import build_context
from firstword.core.auth import service as auth
from firstword.core.auth.roles import Actor, Role, system_actor
from firstword.core.clock import FrozenClock
from firstword.core.db import make_engine
from firstword.core.errors import Conflict
from firstword.core.migrate import alembic_config, upgrade
from firstword.core.settings import Settings
from firstword.demo import retailer as retail
from firstword.demo import scenario
from firstword.demo.demand import CHANNELS
from firstword.demo.geography import COUNTRIES
from firstword.demo.steps import DemoRun, collect, run_steps
from firstword.incidents import service as incidents

DEMO_DIR = "demo"
MARKER = "demo-run.json"
SQLITE_FILES = ("firstword.db", "firstword.db-wal", "firstword.db-shm", "firstword.db-journal")
FAST_CUSTOMERS = 2_000
DEFAULT_CUSTOMERS = 100_000
DEFAULT_SEED = 20261120

# key (also the incident role it plays), e-mail, name, staff roles
STAFF: tuple[tuple[str, str, str, tuple[Role, ...]], ...] = (
    ("admin", "admin@example.com", "Demo Administrator", (Role.ADMIN,)),
    ("incident_commander", "alex.morgan@example.com", "Alex Morgan", (Role.INCIDENT_COMMANDER,)),
    ("communications", "sam.okafor@example.com", "Sam Okafor", (Role.COMMUNICATIONS,)),
    ("legal", "jana.becker@example.com", "Jana Becker", (Role.LEGAL,)),
    ("security", "chris.lindqvist@example.com", "Chris Lindqvist", (Role.SECURITY,)),
    ("customer_service", "maria.lopez@example.com", "Maria Lopez", (Role.CUSTOMER_SERVICE,)),
)


@dataclass(frozen=True)
class DemoOptions:
    customers: int = DEFAULT_CUSTOMERS
    seed: int = DEFAULT_SEED
    fast: bool = False
    password: str | None = None
    reset: bool = False
    yes: bool = False
    start: datetime | None = None  # T+0; default scenario.default_start(now)
    step_modules: Sequence[str] | None = None  # default steps.STEP_MODULES


@dataclass
class DemoResult:
    data_dir: Path
    demo_dir: Path
    start: datetime
    password: str
    password_generated: bool
    users: dict[str, auth.UserRead]
    summary: retail.Summary
    database: str
    shared: dict[str, Any] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)


def _uses_data_dir_sqlite(settings: Settings) -> bool:
    return settings.database_url is None


def describe_database(settings: Settings) -> str:
    if _uses_data_dir_sqlite(settings):
        return str(settings.data_dir / "firstword.db")
    return make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)


def _holds_firstword_data(settings: Settings) -> bool:
    if _uses_data_dir_sqlite(settings) and not (settings.data_dir / "firstword.db").exists():
        return False
    engine = make_engine(settings.sqlalchemy_url)
    try:
        names = set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            return any(
                conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                for name in ("users", "incidents")
                if name in names
            )
    finally:
        engine.dispose()


def prepare_data_dir(settings: Settings, *, reset: bool, yes: bool) -> Path:
    """Refuse, or reset, per the module docstring; return DATA_DIR/demo (marked)."""
    demo_dir = settings.data_dir / DEMO_DIR
    marker = demo_dir / MARKER
    where = describe_database(settings)
    if marker.exists():
        if not reset:
            unfinished = "" if _marker_status(marker) == "complete" else " (unfinished)"
            raise Conflict(
                f"{settings.data_dir} already holds a demo{unfinished}; run with --reset to "
                "replace it, or choose another --data-dir"
            )
        if not _uses_data_dir_sqlite(settings) and not yes:
            raise Conflict(
                f"--reset would drop firstword's tables in {where} "
                "(FIRSTWORD_DATABASE_URL); add --yes if that is what you want"
            )
        _reset(settings, demo_dir)
    elif _holds_firstword_data(settings):
        raise Conflict(
            f"the database {where} already holds firstword data that is not a "
            "demo; run the demo with another --data-dir or database"
        )
    demo_dir.mkdir(parents=True, exist_ok=True)
    return demo_dir


def _marker_status(marker: Path) -> str:
    try:
        return str(json.loads(marker.read_text(encoding="utf-8")).get("status", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _reset(settings: Settings, demo_dir: Path) -> None:
    for name in (*retail.FILES, MARKER):
        (demo_dir / name).unlink(missing_ok=True)
        (demo_dir / f".{name}.tmp").unlink(missing_ok=True)
    if not any(demo_dir.iterdir()):
        demo_dir.rmdir()
    if _uses_data_dir_sqlite(settings):
        for name in SQLITE_FILES:
            (settings.data_dir / name).unlink(missing_ok=True)
        return
    engine = make_engine(settings.sqlalchemy_url)
    try:
        command.downgrade(alembic_config(engine), "base")
    finally:
        engine.dispose()


def _write_marker(demo_dir: Path, data: dict[str, Any]) -> None:
    temporary = demo_dir / f".{MARKER}.tmp"
    temporary.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, demo_dir / MARKER)


def read_marker(demo_dir: Path) -> dict[str, Any]:
    """The run record: status, seed, start, steps run, incident refs, staff e-mails."""
    data: dict[str, Any] = json.loads((demo_dir / MARKER).read_text(encoding="utf-8"))
    return data


def _actor(user: auth.UserRead) -> Actor:
    return Actor(
        kind="user", name=user.email, roles=frozenset(Role(r) for r in user.roles), user_id=user.id
    )


def new_password() -> str:
    """Readable enough to type, long enough to be safe on a shared machine."""
    return "demo-" + secrets.token_urlsafe(12)


def progress_bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def run_demo(
    settings: Settings, options: DemoOptions, *, console: Console, now: datetime
) -> DemoResult:
    """Play the demo into `settings.data_dir`; `now` is the wall clock (fixes T+0)."""
    demo_dir = prepare_data_dir(settings, reset=options.reset, yes=options.yes)
    start = options.start or scenario.default_start(now)
    password = options.password or new_password()
    marker: dict[str, Any] = {
        "status": "running",
        "created_at": now.isoformat(),
        "seed": options.seed,
        "customers": options.customers,
        "start": start.isoformat(),
        "database": describe_database(settings),
    }
    _write_marker(demo_dir, marker)

    spec = retail.RetailerSpec(
        as_of=start,
        customers=options.customers,
        seed=options.seed,
        until=start + scenario.LENGTH,
        disruptions=scenario.disruptions(start),
    )
    with progress_bar(console) as progress:
        phases = ("stores", "customers", "orders", "writing Parquet")
        task = progress.add_task("Generating the retailer", total=len(phases))

        def phase(name: str) -> None:
            done = phases.index(name)
            progress.update(task, completed=done, description=f"Generating {name}")

        world = retail.generate(spec, on_phase=phase)
        phase("writing Parquet")
        world.write(demo_dir, generated_at=now)
        progress.update(task, completed=len(phases), description="Retailer generated")
    summary = world.summary()
    _print_summary(console, summary, demo_dir)

    clock = FrozenClock(start - timedelta(days=1))  # staff accounts exist before the incident
    context = build_context(settings, clock=clock, channels={})
    try:
        upgrade(context.engine)
        users: dict[str, auth.UserRead] = {}
        with context.sessionmaker() as session, session.begin():
            setup = system_actor("demo")
            incidents.ensure_component_catalogue(session, clock=clock, actor=setup)
            for key, email, name, roles in STAFF:
                users[key] = auth.create_user(
                    session,
                    clock=clock,
                    actor=setup,
                    email=email,
                    name=name,
                    password=password,
                    roles=[r.value for r in roles],
                )
        steps = collect(options.step_modules)
        console.rule(f"The incident, from {start:%a %d %b %Y %H:%M} UTC")
        with progress_bar(console) as progress:
            demo = DemoRun(
                context=context,
                clock=clock,
                start=start,
                retailer=world,
                data_dir=demo_dir,
                users=users,
                actors={k: _actor(u) for k, u in users.items()},
                password=password,
                console=console,
                progress=progress,
                fast=options.fast,
            )
            run_steps(demo, steps)
    finally:
        context.close()
    marker.update(
        status="complete",
        steps=[s.name for s in steps],
        incidents={k: v for k, v in demo.shared.items() if k.endswith("_ref")},
        users=[u.email for u in users.values()],
    )
    _write_marker(demo_dir, marker)
    return DemoResult(
        data_dir=settings.data_dir,
        demo_dir=demo_dir,
        start=start,
        password=password,
        password_generated=options.password is None,
        users=users,
        summary=summary,
        database=describe_database(settings),
        shared=demo.shared,
        said=demo.said,
    )


def _print_summary(console: Console, summary: retail.Summary, demo_dir: Path) -> None:
    table = Table(
        title=f"Synthetic retailer ({summary.history_start:%d %b} - "
        f"{summary.history_end:%d %b %Y}), written to {demo_dir}"
    )
    table.add_column("country")
    table.add_column("stores", justify="right")
    table.add_column("customers", justify="right")
    for channel in CHANNELS:
        table.add_column(
            f"{channel.replace('_and_', ' & ').replace('_', ' ')} orders", justify="right"
        )
    for country in COUNTRIES:
        by_channel = summary.orders_by_country_channel[country]
        table.add_row(
            country,
            f"{summary.stores_by_country.get(country, 0):,}",
            f"{summary.customers_by_country.get(country, 0):,}",
            *(f"{by_channel[ch]:,}" for ch in CHANNELS),
        )
    console.print(table)

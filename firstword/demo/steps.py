"""The demo's step registry: every part of firstword shows itself in `firstword demo` as steps.

A step is a function `(demo: DemoRun) -> None` registered with a name and a scripted time
`at` (an offset from the start of the incident, T+0). The runner sorts all steps by
(at, order, name), moves the demo's FrozenClock to `start + at`, and calls each in turn; so a
step at T+6h30 runs after the customer-data breach is opened at T+6h and sees its reference.

How a later part adds a step (one small function in the part's own package):

1. Write `firstword/<part>/demo.py`, for example for the status page:

       from datetime import timedelta

       from firstword.demo.steps import DemoRun, demo_step

       @demo_step("statuspage.publish", at=timedelta(minutes=13),
                  title="Status page shows the outage")
       def publish(demo: DemoRun) -> None:
           ref = demo.shared["outage_ref"]  # set by firstword.demo.scenario.outage
           with demo.transaction() as session:
               ...  # call your part's services with clock=demo.clock, actor=demo.actor(...)
           demo.say(f"The status page now lists {ref}.")

2. Append its module path to STEP_MODULES below ("firstword.statuspage.demo"). The list is
   explicit on purpose: what the demo runs is visible here, not decided by import side
   effects elsewhere.

Rules for steps: use `demo.transaction()` (one transaction per step, committed on success);
never advance the clock yourself (declare `at` instead); read what earlier steps left in
`demo.shared` (keys listed in firstword/demo/scenario/__init__.py: outage_ref, breach_ref...);
put what later steps need there; print with `demo.say`, which prefixes the scripted time.

Layering: firstword.demo sits above the domains, so a domain's `demo` module importing
firstword.demo.steps needs the import-linter layers contract to allow it, e.g.
`ignore_imports = ["firstword.*.demo -> firstword.demo.steps"]`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core.auth.roles import Actor
from firstword.core.auth.service import UserRead
from firstword.core.clock import FrozenClock
from firstword.demo.retailer import Retailer

# The modules whose steps `firstword demo` runs. Later parts append theirs.
STEP_MODULES: list[str] = [
    "firstword.demo.scenario.outage",
    "firstword.demo.scenario.breach",
    "firstword.demo.scenario.recovery",
    "firstword.statuspage.demo",
]

StepFunction = Callable[["DemoRun"], None]


@dataclass(frozen=True)
class DemoStep:
    name: str
    at: timedelta
    order: int
    title: str
    run: StepFunction
    module: str

    @property
    def sort_key(self) -> tuple[timedelta, int, str]:
        return (self.at, self.order, self.name)


_REGISTRY: dict[str, DemoStep] = {}


def demo_step(
    name: str, *, at: timedelta = timedelta(0), order: int = 0, title: str | None = None
) -> Callable[[StepFunction], StepFunction]:
    """Register the decorated function as a demo step scripted at T+`at`; `order` breaks
    ties between steps at the same time (lower first)."""

    def register(function: StepFunction) -> StepFunction:
        existing = _REGISTRY.get(name)
        if existing is not None and (existing.module, existing.run.__qualname__) != (
            function.__module__,
            function.__qualname__,
        ):
            raise ValueError(f"demo step {name!r} is already registered by {existing.module}")
        _REGISTRY[name] = DemoStep(
            name=name,
            at=at,
            order=order,
            title=title or name,
            run=function,
            module=function.__module__,
        )
        return function

    return register


def collect(modules: Sequence[str] | None = None) -> list[DemoStep]:
    """Import the step modules and return their steps in running order."""
    wanted = list(STEP_MODULES if modules is None else modules)
    for module in wanted:
        importlib.import_module(module)
    steps = [step for step in _REGISTRY.values() if step.module in wanted]
    return sorted(steps, key=lambda step: step.sort_key)


def format_offset(delta: timedelta) -> str:
    """T+0:12, T+6:00, T+3d 0:00."""
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    days, rest = divmod(abs(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    return f"T{sign}{days}d {hours}:{mins:02d}" if days else f"T{sign}{hours}:{mins:02d}"


@dataclass
class DemoRun:
    """What every step gets: the context (whose clock is `clock`), the retailer's data, the
    staff users and their actors, a printer, the progress bar and a dict shared by steps."""

    context: Context
    clock: FrozenClock
    start: datetime  # T+0: when the scripted incident begins
    retailer: Retailer
    data_dir: Path  # DATA_DIR/demo, where the retailer's files are
    users: dict[str, UserRead]  # by staff key: admin, incident_commander, communications...
    actors: dict[str, Actor]
    password: str
    console: Console
    progress: Progress | None = None
    fast: bool = False
    shared: dict[str, Any] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)  # the narrative, as printed

    @property
    def elapsed(self) -> timedelta:
        return self.clock.now() - self.start

    def actor(self, key: str) -> Actor:
        try:
            return self.actors[key]
        except KeyError:
            raise KeyError(f"no demo staff user {key!r}; known: {', '.join(self.actors)}") from None

    def say(self, text: str, *, style: str = "") -> None:
        now = self.clock.now()
        stamp = f"{format_offset(self.elapsed):>11}  {now:%a %d %b %H:%M} UTC"
        line = f"{stamp}  {text}"
        self.said.append(line)
        row = Table.grid(padding=(0, 2))
        row.add_column(style="dim", no_wrap=True)
        row.add_column()
        row.add_row(stamp, Text(text, style=style))  # wrapped lines keep a hanging indent
        self.console.print(row)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.context.sessionmaker() as session, session.begin():
            yield session

    def advance_to(self, at: timedelta) -> None:
        """Move the clock forward to T+`at` (never back: steps at the same time share it)."""
        target = self.start + at
        if target > self.clock.now():
            self.clock.set(target)


def run_steps(demo: DemoRun, steps: Sequence[DemoStep]) -> None:
    task = (
        demo.progress.add_task("Scenario", total=len(steps)) if demo.progress is not None else None
    )
    for step in steps:
        demo.advance_to(step.at)
        if demo.progress is not None and task is not None:
            demo.progress.update(task, description=f"{format_offset(step.at)} {step.title}")
        step.run(demo)
        if demo.progress is not None and task is not None:
            demo.progress.advance(task)
    if demo.progress is not None and task is not None:
        demo.progress.update(task, description="Scenario played")

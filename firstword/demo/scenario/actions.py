"""What the scripted people do: small wrappers over the incidents service, each in its own
transaction, plus formatting helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from firstword.demo.retailer import Retailer
from firstword.demo.steps import DemoRun
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentRead, NoteAdd, RoleAssign, UpdatePost
from firstword.incidents.vocabulary import IncidentRole


def after(hours: float = 0, minutes: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes)


def next_update(demo: DemoRun, wait: timedelta) -> str:
    return f"{demo.clock.now() + wait:%H:%M} UTC"


def post(
    demo: DemoRun,
    ref: str,
    who: str,
    body: str,
    *,
    promise: timedelta | None = None,
    **changes: object,
) -> IncidentRead:
    """Post a public update. With `promise`, the update promises the next one that much later
    (instead of the severity's cadence) and `{next}` in `body` becomes that time, so the words
    and the page's "Next update by" agree."""
    if promise is not None:
        body = body.format(next=next_update(demo, promise))
        changes["next_update_in_minutes"] = int(promise.total_seconds() // 60)
    with demo.transaction() as session:
        return incidents.post_update(
            session,
            clock=demo.clock,
            actor=demo.actor(who),
            ref=ref,
            data=UpdatePost.model_validate({"body": body, **changes}),
        )


def complete(demo: DemoRun, ref: str, who: str, *words: str) -> str:
    """Tick off the first open task whose title contains all `words` (case-insensitive)."""
    with demo.transaction() as session:
        incident = incidents.get_incident(session, clock=demo.clock, ref=ref)
        wanted = [w.casefold() for w in words]
        task = next(
            (
                t
                for t in incident.tasks
                if t.done_at is None and all(w in t.title.casefold() for w in wanted)
            ),
            None,
        )
        if task is None:
            titles = "; ".join(t.title for t in incident.tasks)
            raise LookupError(f"{ref} has no open task matching {words}; tasks: {titles}")
        incidents.complete_task(
            session, clock=demo.clock, actor=demo.actor(who), ref=ref, task_id=task.id
        )
        return task.title


def note(demo: DemoRun, ref: str, who: str, body: str) -> None:
    with demo.transaction() as session:
        incidents.add_note(
            session, clock=demo.clock, actor=demo.actor(who), ref=ref, data=NoteAdd(body=body)
        )


def assign(demo: DemoRun, ref: str, roles: list[IncidentRole]) -> None:
    with demo.transaction() as session:
        for role in roles:
            user = demo.users[role.value]
            incidents.assign_role(
                session,
                clock=demo.clock,
                actor=demo.actor("incident_commander"),
                ref=ref,
                data=RoleAssign(role=role, user_id=user.id),
            )


def shorten(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[:width].rsplit(" ", 1)[0] + " ..."


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


@dataclass(frozen=True)
class BreachScope:
    """Who is in the copied table: customers with an online account (at least one web, app or
    click & collect order), by country and, for US breach laws, by state."""

    customers: int
    by_country: dict[str, int]
    us_states: dict[str, int]

    @property
    def counts(self) -> str:
        return ", ".join(f"{country} {n:,}" for country, n in self.by_country.items())


def online_customers(retailer: Retailer) -> BreachScope:
    channel = retailer.orders.column("channel").to_numpy(zero_copy_only=False)
    ids = np.unique(retailer.orders.column("customer_id").to_numpy()[channel != "store"])
    country = retailer.customers.column("country").to_numpy(zero_copy_only=False)[ids - 1]
    region = retailer.customers.column("region").to_numpy(zero_copy_only=False)[ids - 1]
    states, counts = np.unique(region[country == "US"], return_counts=True)
    return BreachScope(
        customers=len(ids),
        by_country={c: int(np.count_nonzero(country == c)) for c in ("GB", "DE", "US")},
        us_states={str(s): int(n) for s, n in zip(states, counts, strict=True)},
    )

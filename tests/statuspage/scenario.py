"""Status page test data, made through the services: a resolved incident in the past, an
open one with private details that must never reach the public side, and maintenances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from firstword.core.clock import FrozenClock
from firstword.incidents import service as incidents
from firstword.incidents.schemas import (
    DataCategoriesChange,
    NoteAdd,
    RoleAssign,
    StateChange,
    UpdatePost,
)
from firstword.statuspage import service as statuspage
from firstword.statuspage.maintenance import MaintenanceSchedule, MaintenanceStep
from tests.factories import actor_for, ensure_catalogue, make_incident, make_user

SECRET_NOTE = "INTERNAL NOTE: suspect the payment gateway vendor"
SECRET_SUMMARY = "INTERNAL SUMMARY: 4,200 failed orders, root cause config push"
STAFF_EMAIL = "ops.lead@retailer.example"
STAFF_NAME = "Priya Staffmember"
HOSTILE = "<script>alert('x')</script> & \"quotes\""


@dataclass
class Busy:
    past_ref: str
    open_ref: str
    upcoming_ref: str
    active_ref: str


def busy_page(session: Session, clock: FrozenClock) -> Busy:
    ensure_catalogue(session, clock)
    staff = make_user(
        session, clock, roles=["incident_commander"], email=STAFF_EMAIL, name=STAFF_NAME
    )
    actor = actor_for(staff)

    clock.advance(timedelta(days=2))
    past = make_incident(
        session,
        clock,
        actor=actor,
        title="Card payments failing in stores",
        severity="SEV1",
        kind="payment_disruption",
        components={"card-payments": "major_outage"},
    )
    clock.advance(timedelta(hours=1))
    incidents.post_update(
        session,
        clock=clock,
        actor=actor,
        ref=past.ref,
        data=UpdatePost(
            body="A fix is being rolled out to all tills.",
            state="monitoring",
            components={"card-payments": "partial_outage"},
        ),
    )
    clock.advance(timedelta(hours=2))
    incidents.post_update(
        session,
        clock=clock,
        actor=actor,
        ref=past.ref,
        data=UpdatePost(body="Card payments work again in every store.", state="resolved"),
    )

    clock.advance(timedelta(days=1))
    current = make_incident(
        session,
        clock,
        actor=actor,
        title=f"Checkout errors {HOSTILE}",
        severity="SEV2",
        summary=SECRET_SUMMARY,
        customer_advice="Please use the app or try again later.",
        components={"online-checkout": "partial_outage", "website": "degraded_performance"},
    )
    incidents.add_note(
        session, clock=clock, actor=actor, ref=current.ref, data=NoteAdd(body=SECRET_NOTE)
    )
    incidents.assign_role(
        session,
        clock=clock,
        actor=actor,
        ref=current.ref,
        data=RoleAssign(role="communications", user_id=staff.id),
    )
    incidents.change_data_categories(
        session,
        clock=clock,
        actor=actor,
        ref=current.ref,
        data=DataCategoriesChange(add=["payment_card_number"]),
    )
    clock.advance(timedelta(minutes=20))
    incidents.post_update(
        session,
        clock=clock,
        actor=actor,
        ref=current.ref,
        data=UpdatePost(body=f"We are looking into checkout errors. {HOSTILE}"),
    )
    clock.advance(timedelta(minutes=30))
    incidents.change_state(
        session, clock=clock, actor=actor, ref=current.ref, data=StateChange(state="identified")
    )
    incidents.post_update(
        session,
        clock=clock,
        actor=actor,
        ref=current.ref,
        data=UpdatePost(
            body="We found the cause and are fixing it.",
            components={"online-checkout": "major_outage"},
        ),
    )

    now = clock.now()
    upcoming = statuspage.schedule_maintenance(
        session,
        clock=clock,
        actor=actor,
        data=MaintenanceSchedule(
            title="Loyalty programme upgrade",
            body="Points may not show for an hour.",
            components=["loyalty-programme"],
            scheduled_for=now + timedelta(days=2),
            scheduled_until=now + timedelta(days=2, hours=1),
        ),
    )
    active = statuspage.schedule_maintenance(
        session,
        clock=clock,
        actor=actor,
        data=MaintenanceSchedule(
            title="Gift card system maintenance",
            body="Gift card balances unavailable.",
            components=["gift-cards"],
            scheduled_for=now,
            scheduled_until=now + timedelta(hours=2),
        ),
    )
    statuspage.start_maintenance(
        session, clock=clock, actor=actor, ref=active.ref, data=MaintenanceStep()
    )
    clock.advance(timedelta(minutes=5))
    return Busy(past.ref, current.ref, upcoming.ref, active.ref)

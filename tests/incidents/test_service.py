"""Opening incidents, references, duplicates, components and state transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firstword.core import audit
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.errors import Conflict, InvalidInput, NotFound
from firstword.incidents import service as incidents
from firstword.incidents.models import Incident, TimelineEntry
from firstword.incidents.schemas import (
    ComponentStatusChange,
    IncidentCreate,
    StateChange,
    UpdatePost,
)
from firstword.incidents.vocabulary import TRANSITIONS, IncidentState
from tests.factories import ensure_catalogue, make_incident

ACTOR = system_actor("tests")


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _status(session: Session, key: str) -> str:
    return next(c.status for c in incidents.list_components(session) if c.key == key)


def test_open_creates_playbook_tasks_due_relative_to_detection(
    session: Session, clock: FrozenClock
) -> None:
    detected = clock.now() - timedelta(minutes=40)
    inc = make_incident(
        session,
        clock,
        kind="outage",
        detected_at=detected,
        components={"online-checkout": "major_outage"},
    )
    assert inc.ref == "INC-2026-0001"
    assert inc.state == IncidentState.INVESTIGATING
    assert inc.playbook == "online-ordering-outage"
    assert inc.clock.detected_at == detected
    ack = next(t for t in inc.tasks if "acknowledgement" in t.title)
    assert ack.owner_role == "communications"
    assert ack.due_at == detected + timedelta(minutes=15)
    assert ack.overdue  # detected 40 minutes ago, due after 15
    review = next(t for t in inc.tasks if "review" in t.title)
    assert review.due_at == detected + timedelta(days=5)
    assert not review.overdue
    assert all(t.source == "online-ordering-outage" for t in inc.tasks)
    assert [c.key for c in inc.components] == ["online-checkout"]
    kinds = [e.kind for e in incidents.timeline(session, ref=inc.ref)]
    assert kinds == ["opened", "playbook_applied"]


def test_explicit_playbook_and_unknown_playbook(session: Session, clock: FrozenClock) -> None:
    inc = make_incident(session, clock, kind="customer_data_breach", playbook="card-breach")
    assert inc.playbook == "card-breach"
    assert any("PCI Forensic Investigator" in t.title for t in inc.tasks)
    before = _count(session, Incident)
    with pytest.raises(InvalidInput) as err:
        make_incident(session, clock, playbook="no-such-playbook")
    assert err.value.field == "playbook"
    assert "ransomware" in err.value.reason  # lists the known keys
    assert _count(session, Incident) == before


def test_references_count_per_year(session: Session, clock: FrozenClock) -> None:
    first = make_incident(session, clock)
    second = make_incident(session, clock)
    clock.set(datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    third = make_incident(session, clock)
    assert [first.ref, second.ref, third.ref] == ["INC-2026-0001", "INC-2026-0002", "INC-2027-0001"]
    assert incidents.get_incident(session, clock=clock, ref="inc-2026-0002").ref == second.ref


def test_get_unknown_incident_names_the_ref(session: Session, clock: FrozenClock) -> None:
    with pytest.raises(NotFound, match="INC-2026-9999"):
        incidents.get_incident(session, clock=clock, ref="INC-2026-9999")


def test_duplicate_opening_conflicts_and_stores_nothing(
    session: Session, clock: FrozenClock
) -> None:
    first = make_incident(session, clock, title="Checkout  failing on the WEBSITE")
    count = _count(session, Incident)
    with pytest.raises(Conflict, match=first.ref):
        make_incident(session, clock, title="checkout failing on the website ")
    assert _count(session, Incident) == count
    # Another kind with the same title is a different incident; so is one after resolution.
    make_incident(session, clock, title="Checkout failing on the website", kind="ransomware")
    incidents.change_state(
        session,
        clock=clock,
        actor=ACTOR,
        ref=first.ref,
        data=StateChange(state=IncidentState.RESOLVED),
    )
    again = make_incident(session, clock, title="Checkout failing on the website")
    assert again.ref != first.ref


def test_unknown_component_stores_nothing(session: Session, clock: FrozenClock) -> None:
    ensure_catalogue(session, clock)
    counts = (
        _count(session, Incident),
        _count(session, TimelineEntry),
        _count(session, audit.AuditEntry),
    )
    with pytest.raises(InvalidInput) as err:
        make_incident(
            session,
            clock,
            components={"website": "major_outage", "teleporter": "degraded_performance"},
        )
    assert err.value.field == "components.teleporter"
    assert "unknown component" in err.value.reason and "website" in err.value.reason
    assert counts == (
        _count(session, Incident),
        _count(session, TimelineEntry),
        _count(session, audit.AuditEntry),
    )
    assert _status(session, "website") == "operational"


def test_detected_at_in_future_or_naive_is_refused(session: Session, clock: FrozenClock) -> None:
    with pytest.raises(InvalidInput) as err:
        make_incident(session, clock, detected_at=clock.now() + timedelta(minutes=5))
    assert err.value.field == "detected_at"
    with pytest.raises(InvalidInput, match="time zone"):
        make_incident(session, clock, detected_at=datetime(2026, 11, 20, 8, 0))


def test_schema_refuses_overlong_title_and_unknown_enum() -> None:
    with pytest.raises(ValidationError) as err:
        IncidentCreate(title="x" * 201, kind="outage", severity="SEV1")
    assert err.value.errors()[0]["loc"] == ("title",)
    with pytest.raises(ValidationError) as err:
        IncidentCreate(title="Fine title", kind="meteor", severity="SEV1")
    assert err.value.errors()[0]["loc"] == ("kind",)


def test_html_is_stored_verbatim(session: Session, clock: FrozenClock) -> None:
    nasty = "<script>alert('x')</script> & <b>bold</b>"
    inc = make_incident(session, clock, title=f"Outage {nasty}", summary=nasty)
    inc = incidents.post_update(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=UpdatePost(body=nasty)
    )
    stored = incidents.get_incident(session, clock=clock, ref=inc.ref)
    assert stored.title == f"Outage {nasty}"
    assert stored.summary == nasty
    assert stored.updates[0].body == nasty


PATHS = {
    IncidentState.INVESTIGATING: [],
    IncidentState.IDENTIFIED: [IncidentState.IDENTIFIED],
    IncidentState.MONITORING: [IncidentState.MONITORING],
    IncidentState.RESOLVED: [IncidentState.RESOLVED],
    IncidentState.POSTMORTEM: [IncidentState.RESOLVED, IncidentState.POSTMORTEM],
}


def test_every_state_transition(session: Session, clock: FrozenClock) -> None:
    for source in IncidentState:
        for target in IncidentState:
            inc = make_incident(session, clock)
            for step in PATHS[source]:
                incidents.change_state(
                    session, clock=clock, actor=ACTOR, ref=inc.ref, data=StateChange(state=step)
                )
            change = StateChange(state=target)
            if target in TRANSITIONS[source]:
                moved = incidents.change_state(
                    session, clock=clock, actor=ACTOR, ref=inc.ref, data=change
                )
                assert moved.state == target
            else:
                version = incidents.get_incident(session, clock=clock, ref=inc.ref).version
                with pytest.raises(InvalidInput) as err:
                    incidents.change_state(
                        session, clock=clock, actor=ACTOR, ref=inc.ref, data=change
                    )
                assert err.value.field == "state"
                for allowed in TRANSITIONS[source]:
                    assert allowed.value in err.value.reason
                after = incidents.get_incident(session, clock=clock, ref=inc.ref)
                assert after.state == source and after.version == version


def test_state_clock_effects(session: Session, clock: FrozenClock) -> None:
    inc = make_incident(session, clock)
    clock.advance(timedelta(hours=2))
    resolved = incidents.change_state(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=StateChange(state="resolved", note="fixed"),
    )
    assert resolved.resolved_at == clock.now()
    assert resolved.clock.contained_at == clock.now()
    assert resolved.clock.time_since_detection_seconds == 7200
    clock.advance(timedelta(minutes=10))
    reopened = incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=StateChange(state="investigating")
    )
    assert reopened.resolved_at is None
    assert reopened.clock.contained_at == resolved.clock.contained_at  # kept
    assert reopened.clock.time_since_detection_seconds == 7800
    incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=StateChange(state="resolved")
    )
    clock.advance(timedelta(days=3))
    pm = incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=StateChange(state="postmortem")
    )
    assert pm.state == "postmortem"
    row = session.scalars(select(Incident).where(Incident.ref == inc.ref)).one()
    assert row.postmortem_at == clock.now()
    entry = [e for e in incidents.timeline(session, ref=inc.ref) if e.kind == "state_changed"][0]
    assert entry.before == {"state": "investigating", "resolved_at": None, "contained_at": None}
    assert entry.after is not None and entry.after["note"] == "fixed"


def test_component_status_rolls_up_worst_across_open_incidents(
    session: Session, clock: FrozenClock
) -> None:
    a = make_incident(session, clock, components={"online-checkout": "degraded_performance"})
    assert _status(session, "online-checkout") == "degraded_performance"
    b = make_incident(
        session,
        clock,
        kind="payment_disruption",
        components={"online-checkout": "major_outage", "online-card-payments": "partial_outage"},
    )
    assert _status(session, "online-checkout") == "major_outage"
    assert _status(session, "online-card-payments") == "partial_outage"
    assert _status(session, "website") == "operational"

    resolved = incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=b.ref, data=StateChange(state="resolved")
    )
    assert {c.key: c.status for c in resolved.components} == {
        "online-checkout": "operational",
        "online-card-payments": "operational",
    }
    assert _status(session, "online-checkout") == "degraded_performance"  # a still open
    assert _status(session, "online-card-payments") == "operational"

    changed = incidents.set_component_status(
        session,
        clock=clock,
        actor=ACTOR,
        ref=a.ref,
        data=ComponentStatusChange(
            components={"online-checkout": "partial_outage", "mobile-app": "degraded_performance"}
        ),
    )
    assert {c.key: c.status for c in changed.components} == {
        "mobile-app": "degraded_performance",
        "online-checkout": "partial_outage",
    }
    assert _status(session, "online-checkout") == "partial_outage"
    entry = incidents.timeline(session, ref=a.ref)[-1]
    assert entry.kind == "components_changed"
    assert entry.before == {
        "components": {"online-checkout": "degraded_performance", "mobile-app": None}
    }
    assert entry.after == {
        "components": {"online-checkout": "partial_outage", "mobile-app": "degraded_performance"}
    }
    incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=a.ref, data=StateChange(state="resolved")
    )
    assert _status(session, "online-checkout") == "operational"
    assert _status(session, "mobile-app") == "operational"


def test_set_unknown_component_changes_nothing(session: Session, clock: FrozenClock) -> None:
    inc = make_incident(session, clock, components={"website": "partial_outage"})
    with pytest.raises(InvalidInput) as err:
        incidents.set_component_status(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=ComponentStatusChange(
                components={"website": "major_outage", "nope": "major_outage"}
            ),
        )
    assert err.value.field == "components.nope"
    after = incidents.get_incident(session, clock=clock, ref=inc.ref)
    assert after.components[0].status == "partial_outage" and after.version == inc.version

"""Scheduled maintenance: the status lifecycle, validation, audit and events, the staff API,
and how it shows on the public side."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.core import audit
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.errors import InvalidInput, NotFound
from firstword.core.outbox import OutboxMessage
from firstword.incidents.vocabulary import ComponentStatus
from firstword.statuspage import service as statuspage
from firstword.statuspage.maintenance import (
    MAINTENANCE_CHANGED,
    MaintenanceSchedule,
    MaintenanceStatus,
    MaintenanceStep,
)
from firstword.statuspage.view import build_view
from tests.factories import ensure_catalogue, make_incident, make_user
from tests.web.conftest import bearer

ACTOR = system_actor("tests")


def _schedule(session: Session, clock: FrozenClock, **overrides) -> statuspage.MaintenanceRead:
    now = clock.now()
    fields = {
        "title": "Payment terminal firmware update",
        "body": "Card payments may pause briefly.",
        "components": ["card-payments", "contactless-payments"],
        "scheduled_for": now + timedelta(hours=1),
        "scheduled_until": now + timedelta(hours=3),
    }
    fields.update(overrides)
    return statuspage.schedule_maintenance(
        session, clock=clock, actor=ACTOR, data=MaintenanceSchedule.model_validate(fields)
    )


def test_lifecycle_with_updates_audit_and_events(session: Session, clock: FrozenClock):
    ensure_catalogue(session, clock)
    item = _schedule(session, clock)
    assert item.ref == "MNT-2026-0001" and item.status is MaintenanceStatus.SCHEDULED
    assert [u.status for u in item.updates] == [MaintenanceStatus.SCHEDULED]
    step = MaintenanceStep()
    clock.advance(timedelta(hours=1))
    item = statuspage.start_maintenance(session, clock=clock, actor=ACTOR, ref=item.ref, data=step)
    assert item.status is MaintenanceStatus.IN_PROGRESS and item.started_at == clock.now()
    clock.advance(timedelta(minutes=50))
    item = statuspage.verify_maintenance(
        session,
        clock=clock,
        actor=ACTOR,
        ref=item.ref,
        data=MaintenanceStep(body="Checking the terminals."),
    )
    clock.advance(timedelta(minutes=10))
    item = statuspage.complete_maintenance(
        session, clock=clock, actor=ACTOR, ref=item.ref, data=step
    )
    assert item.status is MaintenanceStatus.COMPLETED and item.completed_at == clock.now()
    assert [u.status.value for u in item.updates] == [
        "completed",
        "verifying",
        "in_progress",
        "scheduled",
    ]
    assert item.updates[1].body == "Checking the terminals."
    assert item.updates[0].body == "The scheduled maintenance has been completed."

    actions = session.scalars(
        select(audit.AuditEntry.action)
        .where(audit.AuditEntry.object_id == item.ref)
        .order_by(audit.AuditEntry.id)
    ).all()
    assert actions == [
        "maintenance.scheduled",
        "maintenance.in_progress",
        "maintenance.verifying",
        "maintenance.completed",
    ]
    assert audit.verify_chain(session).ok
    topics = session.scalars(
        select(OutboxMessage.recipient).where(OutboxMessage.reference == item.ref)
    ).all()
    assert topics == [MAINTENANCE_CHANGED] * 4


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        ([], "verify", "cancelled, in_progress"),
        (["start"], "cancel", "completed, verifying"),
        (["start", "complete"], "start", "none"),
        (["cancel"], "start", "none"),
    ],
)
def test_refused_transitions_change_nothing(session, clock, path, target, allowed):
    ensure_catalogue(session, clock)
    item = _schedule(session, clock)
    verbs = {
        "start": statuspage.start_maintenance,
        "verify": statuspage.verify_maintenance,
        "complete": statuspage.complete_maintenance,
        "cancel": statuspage.cancel_maintenance,
    }
    for verb in path:
        item = verbs[verb](session, clock=clock, actor=ACTOR, ref=item.ref, data=MaintenanceStep())
    with pytest.raises(InvalidInput, match=f"allowed: {allowed}") as refused:
        verbs[target](session, clock=clock, actor=ACTOR, ref=item.ref, data=MaintenanceStep())
    assert refused.value.field == "status"
    assert statuspage.get_maintenance(session, ref=item.ref) == item


def test_bad_schedules_are_refused(session: Session, clock: FrozenClock):
    ensure_catalogue(session, clock)
    now = clock.now()
    with pytest.raises(InvalidInput, match="must be after scheduled_for"):
        _schedule(session, clock, scheduled_until=now)
    with pytest.raises(InvalidInput, match="at most 14 days"):
        _schedule(session, clock, scheduled_until=now + timedelta(days=30))
    with pytest.raises(InvalidInput, match="in the past"):
        _schedule(
            session,
            clock,
            scheduled_for=now - timedelta(hours=3),
            scheduled_until=now - timedelta(hours=1),
        )
    with pytest.raises(InvalidInput) as unknown:
        _schedule(session, clock, components=["website", "teleporter"])
    assert unknown.value.field == "components.teleporter"
    with pytest.raises(InvalidInput, match="needs a time zone"):
        _schedule(session, clock, scheduled_for=(now + timedelta(hours=1)).replace(tzinfo=None))
    with pytest.raises(ValidationError):
        MaintenanceSchedule.model_validate(
            {"title": "x" * 300, "scheduled_for": now, "scheduled_until": now}
        )
    with pytest.raises(ValidationError):
        MaintenanceSchedule.model_validate(
            {"title": "ok title", "scheduled_for": now, "scheduled_until": now, "surprise": 1}
        )
    with pytest.raises(NotFound):
        statuspage.get_maintenance(session, ref="MNT-1999-0001")
    assert statuspage.list_maintenances(session) == []


def test_components_show_under_maintenance_unless_an_incident_is_worse(
    session: Session, clock: FrozenClock, settings
):
    ensure_catalogue(session, clock)
    item = _schedule(session, clock, scheduled_for=clock.now())
    view = build_view(session, clock=clock, settings=settings)
    assert {c.key: c.status for c in view.components}["card-payments"] is (
        ComponentStatus.OPERATIONAL
    )
    statuspage.start_maintenance(
        session, clock=clock, actor=ACTOR, ref=item.ref, data=MaintenanceStep()
    )
    make_incident(session, clock, components={"contactless-payments": "major_outage"})
    view = build_view(session, clock=clock, settings=settings)
    statuses = {c.key: c.status for c in view.components}
    assert statuses["card-payments"] is ComponentStatus.UNDER_MAINTENANCE
    assert statuses["contactless-payments"] is ComponentStatus.MAJOR_OUTAGE
    statuspage.complete_maintenance(
        session, clock=clock, actor=ACTOR, ref=item.ref, data=MaintenanceStep()
    )
    view = build_view(session, clock=clock, settings=settings)
    assert {c.key: c.status for c in view.components}["card-payments"] is (
        ComponentStatus.OPERATIONAL
    )
    assert [m.ref for m in view.past_maintenances] == [item.ref]
    assert view.maintenances == []


def test_cancelled_maintenance_leaves_the_public_side(session, clock, settings):
    ensure_catalogue(session, clock)
    item = _schedule(session, clock)
    assert [m.ref for m in build_view(session, clock=clock, settings=settings).maintenances] == [
        item.ref
    ]
    statuspage.cancel_maintenance(
        session, clock=clock, actor=ACTOR, ref=item.ref, data=MaintenanceStep()
    )
    view = build_view(session, clock=clock, settings=settings)
    assert view.maintenances == [] and view.past_maintenances == []


def test_staff_api(client, session: Session, clock: FrozenClock):
    ensure_catalogue(session, clock)
    comms = bearer(session, clock, make_user(session, clock, roles=["communications"]))
    viewer = bearer(session, clock, make_user(session, clock, roles=["viewer"]))
    now = clock.now()
    body = {
        "title": "Website maintenance <b>tonight</b>",
        "components": ["website"],
        "scheduled_for": (now + timedelta(hours=1)).isoformat(),
        "scheduled_until": (now + timedelta(hours=2)).isoformat(),
    }
    assert client.post("/api/v1/maintenances", json=body).status_code == 401
    assert client.post("/api/v1/maintenances", json=body, headers=viewer).status_code == 403
    created = client.post("/api/v1/maintenances", json=body, headers=comms)
    assert created.status_code == 201, created.text
    ref = created.json()["ref"]
    assert created.json()["title"] == "Website maintenance <b>tonight</b>"
    listed = client.get("/api/v1/maintenances", headers=viewer)
    assert [m["ref"] for m in listed.json()] == [ref]
    assert client.post(f"/api/v1/maintenances/{ref}/start", headers=viewer).status_code == 403
    started = client.post(f"/api/v1/maintenances/{ref}/start", headers=comms)
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    refused = client.post(f"/api/v1/maintenances/{ref}/cancel", headers=comms)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "status"
    done = client.post(
        f"/api/v1/maintenances/{ref}/complete", headers=comms, json={"body": "All finished."}
    )
    assert done.json()["updates"][0]["body"] == "All finished."
    assert client.get("/api/v1/maintenances/MNT-2000-0009", headers=viewer).status_code == 404
    bad = client.post("/api/v1/maintenances", headers=comms, json={**body, "components": ["x"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "components.x"

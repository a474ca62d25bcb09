"""Public updates, the transparency clock, timeline and audit, tasks, roles, edits, lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from firstword.core import audit
from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.errors import Conflict, InvalidInput, NotFound
from firstword.incidents import service as incidents
from firstword.incidents.schemas import (
    ClockMark,
    DataCategoriesChange,
    IncidentEdit,
    NoteAdd,
    RoleAssign,
    StateChange,
    TaskAdd,
    UpdatePost,
)
from firstword.incidents.vocabulary import IncidentKind, IncidentState
from tests.factories import actor_for, make_incident, make_user

ACTOR = system_actor("tests")


def test_post_update_acknowledges_once_and_tracks_last_update(
    session: Session, clock: FrozenClock
) -> None:
    inc = make_incident(session, clock, components={"online-checkout": "major_outage"})
    assert inc.clock.acknowledged_at is None
    assert inc.clock.time_since_last_public_update_seconds is None
    clock.advance(timedelta(minutes=12))
    first_at = clock.now()
    first = incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=UpdatePost(body="Some of you cannot check out."),
    )
    assert first.clock.acknowledged_at == first_at
    assert first.clock.time_to_acknowledge_seconds == 12 * 60
    assert first.updates[0].state == "investigating"
    assert first.updates[0].component_statuses == {"online-checkout": "major_outage"}

    clock.advance(timedelta(minutes=30))
    second = incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=UpdatePost(
            body="Fix deployed, watching.",
            state="monitoring",
            components={"online-checkout": "degraded_performance"},
        ),
    )
    assert second.clock.acknowledged_at == first_at  # only the first update acknowledges
    assert second.state == "monitoring"
    assert [u.body for u in second.updates] == [
        "Fix deployed, watching.",
        "Some of you cannot check out.",
    ]
    assert second.updates[0].state == "monitoring"
    assert second.updates[0].component_statuses == {"online-checkout": "degraded_performance"}
    clock.advance(timedelta(minutes=5))
    now = incidents.get_incident(session, clock=clock, ref=inc.ref)
    assert now.clock.time_since_last_public_update_seconds == 5 * 60

    entries = incidents.timeline(session, ref=inc.ref)
    assert [e.kind for e in entries[-4:]] == [
        "public_update",
        "components_changed",
        "state_changed",
        "public_update",
    ]
    assert [e.public for e in entries[-4:]] == [True, False, False, True]
    assert entries[-4].before == {
        "last_public_update_at": None,
        "next_update_promised_at": None,
        "acknowledged_at": None,
    }
    assert second.version == inc.version + 4


def test_post_update_with_forbidden_state_changes_nothing(
    session: Session, clock: FrozenClock
) -> None:
    inc = make_incident(session, clock, components={"website": "partial_outage"})
    incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=StateChange(state="resolved")
    )
    incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=StateChange(state="postmortem")
    )
    before = incidents.get_incident(session, clock=clock, ref=inc.ref)
    with pytest.raises(InvalidInput) as err:
        incidents.post_update(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=UpdatePost(
                body="Back!", state="investigating", components={"website": "major_outage"}
            ),
        )
    assert err.value.field == "state"
    after = incidents.get_incident(session, clock=clock, ref=inc.ref)
    assert after.version == before.version and after.updates == before.updates
    assert after.components == before.components


def test_transparency_clock_derivations(session: Session, clock: FrozenClock) -> None:
    detected = clock.now() - timedelta(hours=1)
    inc = make_incident(session, clock, kind="customer_data_breach", detected_at=detected)
    assert inc.clock.time_since_detection_seconds == 3600
    clock.advance(timedelta(minutes=20))
    incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=UpdatePost(body="We are investigating a security incident."),
    )
    notified = detected + timedelta(minutes=50)
    marked = incidents.mark_clock(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=ClockMark(event="customers_notified", at=notified),
    )
    assert marked.clock.customers_notified_at == notified
    assert marked.clock.time_to_notify_seconds == 50 * 60
    assert marked.clock.time_to_acknowledge_seconds == 80 * 60
    contained = incidents.mark_clock(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=ClockMark(event="contained")
    )
    assert contained.clock.contained_at == clock.now()
    with pytest.raises(InvalidInput) as err:
        incidents.mark_clock(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=ClockMark(event="contained", at=detected - timedelta(seconds=1)),
        )
    assert err.value.field == "at" and "before" in err.value.reason
    with pytest.raises(InvalidInput) as err:
        incidents.mark_clock(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=ClockMark(event="contained", at=clock.now() + timedelta(hours=1)),
        )
    assert err.value.field == "at" and "future" in err.value.reason
    entry = incidents.timeline(session, ref=inc.ref)[-1]
    assert entry.kind == "clock_marked"
    assert entry.before == {"contained_at": None}
    assert entry.after == {"contained_at": clock.now().isoformat()}


def test_audit_chain_verifies_and_mirrors_the_timeline(
    session: Session, clock: FrozenClock
) -> None:
    user = make_user(session, clock, roles=["communications"])
    inc = make_incident(session, clock, components={"website": "major_outage"})
    steps: list[Callable[[], object]] = [
        lambda: incidents.post_update(
            session, clock=clock, actor=ACTOR, ref=inc.ref, data=UpdatePost(body="We know.")
        ),
        lambda: incidents.add_note(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=NoteAdd(body="CDN vendor ticket 4411"),
        ),
        lambda: incidents.assign_role(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=RoleAssign(role="communications", user_id=user.id),
        ),
        lambda: incidents.edit_incident(
            session, clock=clock, actor=ACTOR, ref=inc.ref, data=IncidentEdit(severity="SEV1")
        ),
        lambda: incidents.change_data_categories(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=DataCategoriesChange(add=["email", "name"]),
        ),
        lambda: incidents.change_state(
            session, clock=clock, actor=ACTOR, ref=inc.ref, data=StateChange(state="resolved")
        ),
    ]
    for step in steps:
        clock.advance(timedelta(minutes=3))
        step()
    report = audit.verify_chain(session)
    assert report.ok, report.reason
    trail = audit.entries_for(session, "incident", inc.ref)
    entries = incidents.timeline(session, ref=inc.ref)
    assert [a.action for a in trail] == [f"incident.{e.kind}" for e in entries]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    edited = next(e for e in entries if e.kind == "edited")
    assert edited.before == {"severity": "SEV2"} and edited.after == {"severity": "SEV1"}
    assert edited.actor == ACTOR.label
    # tampering with an incident's audit entry is detected
    session.execute(
        update(audit.AuditEntry)
        .where(audit.AuditEntry.id == trail[2].id)
        .values(actor="someone-else")
    )
    session.expire_all()
    assert not audit.verify_chain(session).ok


def test_edit_with_stale_version_conflicts(session: Session, clock: FrozenClock) -> None:
    inc = make_incident(session, clock)
    edited = incidents.edit_incident(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=IncidentEdit(
            summary="Checkout errors after the 08:40 deploy.", expected_version=inc.version
        ),
    )
    assert edited.version == inc.version + 1
    with pytest.raises(Conflict, match="changed meanwhile"):
        incidents.edit_incident(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=IncidentEdit(title="Another title", expected_version=inc.version),
        )
    current = incidents.get_incident(session, clock=clock, ref=inc.ref)
    assert current.title == inc.title and current.version == edited.version
    unchanged = incidents.edit_incident(
        session, clock=clock, actor=ACTOR, ref=inc.ref, data=IncidentEdit(summary=edited.summary)
    )
    assert unchanged.version == edited.version  # no change, no new version


def test_tasks_overdue_and_completion(session: Session, clock: FrozenClock) -> None:
    inc = make_incident(session, clock, kind="ransomware")
    added = incidents.add_task(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=TaskAdd(
            title="Call the insurer", owner_role="legal", due_at=clock.now() + timedelta(minutes=10)
        ),
    )
    task = next(t for t in added.tasks if t.title == "Call the insurer")
    assert task.source == "manual" and not task.overdue
    clock.advance(timedelta(minutes=11))
    now = incidents.get_incident(session, clock=clock, ref=inc.ref)
    assert next(t for t in now.tasks if t.id == task.id).overdue
    done = incidents.complete_task(session, clock=clock, actor=ACTOR, ref=inc.ref, task_id=task.id)
    finished = next(t for t in done.tasks if t.id == task.id)
    assert finished.done_at == clock.now() and finished.done_by == ACTOR.label
    assert not finished.overdue
    with pytest.raises(Conflict, match="already done"):
        incidents.complete_task(session, clock=clock, actor=ACTOR, ref=inc.ref, task_id=task.id)
    other = make_incident(session, clock)
    with pytest.raises(NotFound):
        incidents.complete_task(session, clock=clock, actor=ACTOR, ref=other.ref, task_id=task.id)
    with pytest.raises(InvalidInput, match="time zone"):
        incidents.add_task(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=TaskAdd(title="x", owner_role="legal", due_at=datetime(2026, 11, 21, 9, 0)),
        )


def test_assign_role_checks_the_user(session: Session, clock: FrozenClock) -> None:
    ic = make_user(session, clock, roles=["incident_commander"], name="Priya Shah")
    inc = make_incident(session, clock, actor=actor_for(ic))
    assert inc.opened_by == ic.email
    assigned = incidents.assign_role(
        session,
        clock=clock,
        actor=actor_for(ic),
        ref=inc.ref,
        data=RoleAssign(role="incident_commander", user_id=ic.id),
    )
    assert [(r.role, r.user_name) for r in assigned.roles] == [("incident_commander", "Priya Shah")]
    with pytest.raises(Conflict):
        incidents.assign_role(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=RoleAssign(role="incident_commander", user_id=ic.id),
        )
    with pytest.raises(NotFound):
        incidents.assign_role(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=RoleAssign(role="legal", user_id=999_999),
        )
    gone = make_user(session, clock, roles=["legal"])
    auth.deactivate_user(session, clock=clock, actor=ACTOR, user_id=gone.id)
    with pytest.raises(InvalidInput) as err:
        incidents.assign_role(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=RoleAssign(role="legal", user_id=gone.id),
        )
    assert err.value.field == "user_id"
    removed = incidents.unassign_role(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=RoleAssign(role="incident_commander", user_id=ic.id),
    )
    assert removed.roles == []


def test_data_categories_add_and_remove(session: Session, clock: FrozenClock) -> None:
    inc = make_incident(session, clock, kind="customer_data_breach", data_categories=["email"])
    changed = incidents.change_data_categories(
        session,
        clock=clock,
        actor=ACTOR,
        ref=inc.ref,
        data=DataCategoriesChange(add=["date_of_birth", "postal_address"], remove=["email"]),
    )
    assert changed.data_categories == ["date_of_birth", "postal_address"]
    entry = incidents.timeline(session, ref=inc.ref)[-1]
    assert entry.before == {"data_categories": ["email"]}
    assert entry.after == {"data_categories": ["date_of_birth", "postal_address"]}
    with pytest.raises(InvalidInput) as err:
        incidents.change_data_categories(
            session,
            clock=clock,
            actor=ACTOR,
            ref=inc.ref,
            data=DataCategoriesChange(add=["phone"], remove=["phone"]),
        )
    assert err.value.field == "remove"


def test_list_pagination_and_filters(session: Session, clock: FrozenClock) -> None:
    refs = []
    for n in range(7):
        clock.advance(timedelta(minutes=1))
        refs.append(
            make_incident(session, clock, kind="outage" if n % 2 else "payment_disruption").ref
        )
    incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=refs[0], data=StateChange(state="resolved")
    )
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = incidents.list_incidents(session, clock=clock, limit=3, cursor=cursor)
        assert page.total == 7
        seen += [i.ref for i in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(refs)) and pages == 3
    outages = incidents.list_incidents(session, clock=clock, kind=IncidentKind.OUTAGE)
    assert outages.total == 3 and {i.kind for i in outages.items} == {"outage"}
    open_ = incidents.list_incidents(session, clock=clock, states=[IncidentState.INVESTIGATING])
    assert refs[0] not in [i.ref for i in open_.items] and open_.total == 6
    with pytest.raises(InvalidInput) as err:
        incidents.list_incidents(session, clock=clock, limit=0)
    assert err.value.field == "limit"
    with pytest.raises(InvalidInput) as err:
        incidents.list_incidents(session, clock=clock, cursor="not-a-cursor!")
    assert err.value.field == "cursor"


def test_opening_in_another_year_uses_clock_year(session: Session) -> None:
    clock = FrozenClock(datetime(2030, 6, 1, tzinfo=UTC))
    assert make_incident(session, clock).ref == "INC-2030-0001"

"""The update cadence: when the next public update is due per severity, and what an overdue
update leaves behind (one timeline entry, one audit record, one e-mail per person)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core import audit
from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.errors import FirstwordError
from firstword.core.outbox import OutboxMessage
from firstword.incidents import cadence
from firstword.incidents import service as incidents
from firstword.incidents.schemas import (
    IncidentEdit,
    OverdueUpdate,
    RoleAssign,
    StateChange,
    UpdatePost,
)
from firstword.incidents.vocabulary import IncidentRole, IncidentState, Severity
from firstword.workers import scheduler
from tests.factories import make_incident, make_user

ACTOR = system_actor("tests")
SHIPPED = cadence.read_policy()


def _post(session: Session, clock: FrozenClock, ref: str, body: str = "Still on it.") -> None:
    incidents.post_update(session, clock=clock, actor=ACTOR, ref=ref, data=UpdatePost(body=body))


def _overdue_entries(session: Session, ref: str) -> list[dict[str, object]]:
    return [
        e.after or {}
        for e in incidents.timeline(session, ref=ref)
        if e.kind == cadence.OVERDUE_KIND
    ]


def _alerts(session: Session, ref: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == cadence.ALERT_TOPIC, OutboxMessage.reference == ref)
            .order_by(OutboxMessage.id)
        )
    )


# --- the policy ----------------------------------------------------------------------------


def test_shipped_intervals() -> None:
    minutes = {s: (c.every, c.first_within) for s, c in SHIPPED.severities.items()}
    assert minutes == {
        Severity.SEV1: (30, 15),
        Severity.SEV2: (60, 15),
        Severity.SEV3: (240, 60),
        Severity.SEV4: (1440, 240),
    }
    assert SHIPPED.source == "shipped" and SHIPPED.problem is None


def test_user_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    (tmp_path / "cadence.yaml").write_text("severities:\n  SEV2: {every: 45}\n")
    policy = cadence.load_policy(tmp_path)
    assert policy.problem is None and policy.source.endswith("cadence.yaml")
    assert policy.severities[Severity.SEV2].every == 45
    assert policy.severities[Severity.SEV2].first_within == 15  # kept from the shipped file
    assert policy.severities[Severity.SEV1] == SHIPPED.severities[Severity.SEV1]
    # Edited: read again (the cache is keyed on the file's time and size).
    (tmp_path / "cadence.yaml").write_text("severities:\n  SEV2: {every: 50, first_within: 10}\n")
    assert cadence.load_policy(tmp_path).severities[Severity.SEV2].every == 50


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("severities:\n  SEV9: {every: 5}\n", "cadence.yaml:2", "SEV9"),
        ("severities:\n  SEV1: {every: 0}\n", "cadence.yaml:2", "greater than or equal to 1"),
        ("severities:\n  SEV1: [\n", "cadence.yaml:", "malformed YAML"),
        ("severities:\n  SEV1: {evry: 5}\n", "cadence.yaml:2", "evry"),
        (
            "severities:\n\n  SEV3: {first_within: 300}\n",
            "cadence.yaml:3",
            "must not be longer than every",
        ),
    ],
)
def test_a_broken_user_file_is_named_and_the_shipped_intervals_apply(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    (tmp_path / "cadence.yaml").write_text(text)
    policy = cadence.read_policy(tmp_path / "cadence.yaml")
    assert policy.problem is not None
    assert policy.problem.startswith(where), policy.problem
    assert reason in policy.problem
    assert policy.severities == SHIPPED.severities


def test_the_shipped_file_must_name_every_severity(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    partial = tmp_path / "shipped.yaml"
    partial.write_text("severities:\n  SEV1: {every: 30, first_within: 15}\n")
    monkeypatch.setattr(cadence, "SHIPPED_FILE", partial)
    with pytest.raises(FirstwordError, match="SEV2, SEV3, SEV4"):
        cadence.read_policy()


# --- the arithmetic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "first", "every"),
    [("SEV1", 15, 30), ("SEV2", 15, 60), ("SEV3", 60, 240), ("SEV4", 240, 1440)],
)
def test_due_times_per_severity(
    session: Session, clock: FrozenClock, severity: str, first: int, every: int
) -> None:
    start = clock.now()
    ref = make_incident(session, clock, severity=severity).ref

    status = incidents.cadence_status(session, clock=clock, ref=ref)
    assert status.is_open and status.awaiting_first_update
    assert status.next_update_due == start + timedelta(minutes=first)
    assert not status.overdue and status.minutes_overdue == 0
    assert status.minutes_until_due == first
    assert status.interval_minutes == every and status.first_update_minutes == first

    clock.advance(timedelta(minutes=first))  # exactly at the due time: not yet overdue
    assert not incidents.cadence_status(session, clock=clock, ref=ref).overdue
    clock.advance(timedelta(minutes=7, seconds=30))
    late = incidents.cadence_status(session, clock=clock, ref=ref)
    assert late.overdue and late.minutes_overdue == 7 and late.minutes_until_due is None

    _post(session, clock, ref)  # the update resets the promise
    posted = clock.now()
    status = incidents.cadence_status(session, clock=clock, ref=ref)
    assert not status.awaiting_first_update and not status.overdue
    assert status.last_public_update_at == posted
    assert status.next_update_due == posted + timedelta(minutes=every)
    clock.advance(timedelta(minutes=every - 1, seconds=30))
    assert incidents.cadence_status(session, clock=clock, ref=ref).minutes_until_due == 1
    clock.advance(timedelta(minutes=2))
    assert incidents.cadence_status(session, clock=clock, ref=ref).minutes_overdue == 1


def test_detection_in_the_past_and_a_severity_change(session: Session, clock: FrozenClock) -> None:
    detected = clock.now() - timedelta(minutes=20)
    ref = make_incident(session, clock, severity="SEV2", detected_at=detected).ref
    status = incidents.cadence_status(session, clock=clock, ref=ref)
    assert status.next_update_due == detected + timedelta(minutes=15)
    assert status.overdue and status.minutes_overdue == 5  # late from the moment it is opened

    _post(session, clock, ref)
    posted = clock.now()
    assert incidents.cadence_status(session, clock=clock, ref=ref).next_update_due == (
        posted + timedelta(minutes=60)
    )
    incidents.edit_incident(
        session, clock=clock, actor=ACTOR, ref=ref, data=IncidentEdit(severity=Severity.SEV1)
    )
    assert incidents.cadence_status(session, clock=clock, ref=ref).next_update_due == (
        posted + timedelta(minutes=30)
    )


def test_nothing_is_due_once_resolved(session: Session, clock: FrozenClock) -> None:
    ref = make_incident(session, clock, severity="SEV1").ref
    incidents.change_state(
        session, clock=clock, actor=ACTOR, ref=ref, data=StateChange(state=IncidentState.RESOLVED)
    )
    clock.advance(timedelta(hours=5))
    status = incidents.cadence_status(session, clock=clock, ref=ref)
    assert not status.is_open and status.next_update_due is None and not status.overdue
    assert incidents.check_overdue_updates(session, clock=clock) == []


def test_an_explicit_promise_replaces_the_cadence_until_the_next_update(
    session: Session, clock: FrozenClock
) -> None:
    """ "Next update by 08:00" overnight: the promise is the due time (shown, checked), and
    the next update without a promise goes back to the severity's interval."""
    ref = make_incident(session, clock, severity="SEV1").ref
    incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=ref,
        data=UpdatePost(body="Paused overnight.", next_update_in_minutes=8 * 60),
    )
    promised = clock.now() + timedelta(hours=8)
    status = incidents.cadence_status(session, clock=clock, ref=ref)
    assert status.next_update_due == promised
    assert incidents.get_incident(session, clock=clock, ref=ref).next_update_promised_at == promised
    clock.advance(timedelta(hours=7, minutes=59))
    assert incidents.check_overdue_updates(session, clock=clock) == []  # 30 min cadence ignored
    clock.advance(timedelta(minutes=2))
    missed = incidents.check_overdue_updates(session, clock=clock)
    assert [(m.ref, m.due_at, m.newly_recorded) for m in missed] == [(ref, promised, True)]

    incidents.post_update(session, clock=clock, actor=ACTOR, ref=ref, data=UpdatePost(body="Up."))
    status = incidents.cadence_status(session, clock=clock, ref=ref)
    assert status.next_update_due == clock.now() + timedelta(minutes=30)
    timeline = incidents.timeline(session, ref=ref)
    promise_entry = next(e for e in timeline if "next promised by" in e.summary)
    assert promise_entry.after is not None
    assert promise_entry.after["next_update_promised_at"] == promised.isoformat()


@pytest.mark.parametrize("minutes", [0, 4, 1441])
def test_a_promise_must_be_between_5_minutes_and_a_day(minutes: int) -> None:
    with pytest.raises(ValueError, match="next_update_in_minutes"):
        UpdatePost(body="x", next_update_in_minutes=minutes)


def test_a_user_policy_is_used_when_given(
    session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    (tmp_path / "cadence.yaml").write_text("severities:\n  SEV2: {first_within: 5}\n")
    ref = make_incident(session, clock, severity="SEV2").ref
    policy = incidents.load_cadence_policy(tmp_path)
    status = incidents.cadence_status(session, clock=clock, ref=ref, policy=policy)
    assert status.next_update_due == clock.now() + timedelta(minutes=5)


# --- overdue -------------------------------------------------------------------------------


def test_overdue_is_recorded_once_and_alerts_each_person_once(
    session: Session, clock: FrozenClock
) -> None:
    comms = make_user(session, clock, roles=["communications"], name="Cora Comms")
    commander = make_user(session, clock, roles=["incident_commander"], name="Ian Commander")
    legal = make_user(session, clock, roles=["legal"])
    gone = make_user(session, clock, roles=["communications"])
    other_comms = make_user(session, clock, roles=["communications"])  # not on this incident
    ref = make_incident(session, clock, severity="SEV1", title="Contactless down in stores").ref
    for role, user in [
        (IncidentRole.COMMUNICATIONS, comms),
        (IncidentRole.INCIDENT_COMMANDER, commander),
        (IncidentRole.LEGAL, legal),
        (IncidentRole.COMMUNICATIONS, gone),
    ]:
        incidents.assign_role(
            session, clock=clock, actor=ACTOR, ref=ref, data=RoleAssign(role=role, user_id=user.id)
        )
    auth.deactivate_user(session, clock=clock, actor=ACTOR, user_id=gone.id)
    due = clock.now() + timedelta(minutes=15)

    clock.advance(timedelta(minutes=15))
    assert incidents.check_overdue_updates(session, clock=clock) == []  # due, not yet late
    clock.advance(timedelta(minutes=3))
    first = incidents.check_overdue_updates(session, clock=clock, base_url="https://ops.example")
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        again = incidents.check_overdue_updates(session, clock=clock)
        assert [(o.ref, o.newly_recorded, o.alerted) for o in again] == [(ref, False, [])]

    assert [(o.ref, o.due_at, o.minutes_overdue, o.newly_recorded) for o in first] == [
        (ref, due, 3, True)
    ]
    assert sorted(first[0].alerted) == sorted([comms.email, commander.email])
    entries = _overdue_entries(session, ref)
    assert len(entries) == 1
    assert entries[0]["due_at"] == due.isoformat() and entries[0]["first_update"] is True
    assert entries[0]["severity"] == "SEV1"

    alerts = _alerts(session, ref)
    assert sorted(a.recipient for a in alerts) == sorted([comms.email, commander.email])
    assert {a.channel for a in alerts} == {"smtp"}
    assert other_comms.email not in {a.recipient for a in alerts}
    body = alerts[0].payload
    assert ref in body["subject"] and "overdue" in body["subject"]
    assert "Contactless down in stores" in body["text"]
    assert f"https://ops.example/console/incidents/{ref}" in body["text"]
    assert [a.idempotency_key for a in alerts] == [
        f"cadence:{ref}:{due.isoformat()}:{u.id}"
        for u in sorted([comms, commander], key=lambda u: u.id)
    ]
    actions = [e.action for e in audit.entries_for(session, "incident", ref)]
    assert actions.count("incident.update_overdue") == 1
    # Recording a miss is not an edit: the version stays, so open edit forms stay valid.
    assert incidents.get_incident(session, clock=clock, ref=ref).version == 5  # 4 role changes

    # The update comes: nothing is overdue; the next one is due an interval later.
    _post(session, clock, ref)
    posted = clock.now()
    assert incidents.check_overdue_updates(session, clock=clock) == []
    clock.advance(timedelta(minutes=31))
    second = incidents.check_overdue_updates(session, clock=clock)
    assert [(o.due_at, o.newly_recorded) for o in second] == [
        (posted + timedelta(minutes=30), True)
    ]
    assert len(_overdue_entries(session, ref)) == 2 and len(_alerts(session, ref)) == 4

    misses = incidents.cadence_misses(session, ref=ref)
    assert [(m.due_at, m.first_update, m.posted_at, m.minutes_late) for m in misses] == [
        (due, True, posted, 6),
        (posted + timedelta(minutes=30), False, None, None),
    ]


def test_alerts_fall_back_to_the_communications_role(session: Session, clock: FrozenClock) -> None:
    comms = [make_user(session, clock, roles=["communications"]) for _ in range(2)]
    make_user(session, clock, roles=["incident_commander", "legal"])  # not communications
    ref = make_incident(session, clock, severity="SEV3").ref
    clock.advance(timedelta(minutes=61))
    [found] = incidents.check_overdue_updates(session, clock=clock)
    assert sorted(found.alerted) == sorted(u.email for u in comms)
    assert sorted(a.recipient for a in _alerts(session, ref)) == sorted(u.email for u in comms)


def test_without_anyone_to_alert_the_miss_is_still_recorded(
    session: Session, clock: FrozenClock
) -> None:
    ref = make_incident(session, clock, severity="SEV4").ref
    clock.advance(timedelta(hours=5))
    [found] = incidents.check_overdue_updates(session, clock=clock)
    assert found.newly_recorded and found.alerted == []
    assert len(_overdue_entries(session, ref)) == 1 and _alerts(session, ref) == []


# --- the scheduler -------------------------------------------------------------------------


def test_the_scheduler_records_a_miss_once_however_often_it_runs(
    committing_context: Context, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = committing_context
    with ctx.sessionmaker() as session, session.begin():
        user = make_user(session, clock, roles=["communications"])
        ref = make_incident(session, clock, severity="SEV1").ref
    clock.advance(timedelta(minutes=20))

    results: list[list[OverdueUpdate]] = []
    enough = threading.Event()
    real_check = scheduler.check_once

    def counting_check(context: Context) -> list[OverdueUpdate]:
        results.append(real_check(context))
        if len(results) >= 4:
            enough.set()
        return results[-1]

    monkeypatch.setattr(scheduler, "check_once", counting_check)
    stop = threading.Event()
    checks: list[int] = []
    thread = threading.Thread(
        target=lambda: checks.append(scheduler.run_scheduler(ctx, stop, interval=0.01))
    )
    thread.start()
    try:
        assert enough.wait(60), "the scheduler did not run four checks"
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive() and checks == [len(results)]
    assert [o.newly_recorded for o in results[0]] == [True]
    assert all([o.newly_recorded for o in r] == [False] for r in results[1:])
    with ctx.sessionmaker() as session:
        assert len(_overdue_entries(session, ref)) == 1
        assert [a.recipient for a in _alerts(session, ref)] == [user.email]


def test_the_scheduler_keeps_going_after_a_failed_check(
    committing_context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    stop = threading.Event()

    def failing_then_stopping(context: Context) -> list[OverdueUpdate]:
        calls.append(1)
        if len(calls) >= 3:
            stop.set()
        raise RuntimeError("boom")

    monkeypatch.setattr(scheduler, "check_once", failing_then_stopping)
    assert scheduler.run_scheduler(committing_context, stop, interval=0.001) == 3


def test_the_worker_command_runs_the_overdue_check(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from firstword import clisupport
    from firstword.cli import app

    def reset() -> None:
        if clisupport._context is not None:
            clisupport._context.close()
        clisupport._context = None

    runner = CliRunner()
    env = {"FIRSTWORD_DATA_DIR": str(tmp_path / "data"), "FIRSTWORD_DATABASE_URL": None}

    def run(*args: str) -> str:
        reset()
        try:
            result = runner.invoke(app, list(args), env=env)
        finally:
            reset()
        assert result.exit_code == 0, result.output
        return result.output

    run(
        "incidents",
        "open",
        "--title",
        "Tills offline",
        "--kind",
        "outage",
        "--severity",
        "sev1",
        "--detected-at",
        "2020-01-01T08:00:00Z",
    )
    ref = json.loads(run("incidents", "list", "--json"))["items"][0]["ref"]

    def misses() -> list[dict[str, object]]:
        entries = json.loads(run("incidents", "timeline", ref, "--json"))
        return [e for e in entries if e["kind"] == cadence.OVERDUE_KIND]

    # No one to alert and an SMTP server that is not there: the miss is still recorded.
    run("worker", "--once", "--no-scheduler", "--channel", "event")
    assert misses() == []
    run("worker", "--once", "--channel", "event")
    run("worker", "--once", "--channel", "event")
    [miss] = misses()
    assert miss["after"]["due_at"] == "2020-01-01T08:15:00+00:00"  # type: ignore[index]

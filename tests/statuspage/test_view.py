"""The public view: overall status and impact rules, uptime history, and what never leaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.settings import Settings
from firstword.incidents import service as incidents
from firstword.incidents.schemas import StatusInterval, UpdatePost
from firstword.incidents.vocabulary import ComponentStatus, Severity
from firstword.statuspage.view import (
    Indicator,
    build_view,
    incident_impact,
    overall_status,
    uptime_days,
)
from tests.factories import ensure_catalogue, make_incident
from tests.statuspage.scenario import (
    HOSTILE,
    SECRET_NOTE,
    SECRET_SUMMARY,
    STAFF_EMAIL,
    STAFF_NAME,
    busy_page,
)

S = ComponentStatus
ACTOR = system_actor("tests")


@pytest.mark.parametrize(
    ("statuses", "indicator", "description"),
    [
        ([], "none", "All Systems Operational"),
        ([S.OPERATIONAL, S.OPERATIONAL], "none", "All Systems Operational"),
        ([S.OPERATIONAL, S.DEGRADED_PERFORMANCE], "minor", "Partially Degraded Service"),
        ([S.DEGRADED_PERFORMANCE] * 3, "minor", "Degraded System Service"),
        ([S.OPERATIONAL, S.PARTIAL_OUTAGE], "minor", "Minor Service Outage"),
        ([S.PARTIAL_OUTAGE, S.PARTIAL_OUTAGE], "major", "Partial System Outage"),
        ([S.OPERATIONAL, S.MAJOR_OUTAGE], "major", "Partial System Outage"),
        ([S.MAJOR_OUTAGE], "critical", "Major System Outage"),
        ([S.MAJOR_OUTAGE, S.DEGRADED_PERFORMANCE], "major", "Partial System Outage"),
        ([S.OPERATIONAL, S.UNDER_MAINTENANCE], "none", "Service Under Maintenance"),
    ],
)
def test_overall_status_from_components(statuses, indicator, description):
    status = overall_status(statuses)
    assert (status.indicator.value, status.description) == (indicator, description)


def test_unresolved_incidents_raise_the_indicator_but_never_lower_it():
    ops = [S.OPERATIONAL] * 3
    assert overall_status(ops, [Indicator.NONE]).indicator is Indicator.NONE
    raised = overall_status(ops, [Indicator.MINOR, Indicator.MAJOR])
    assert (raised.indicator, raised.description) == (Indicator.MAJOR, "Partial System Outage")
    kept = overall_status([S.MAJOR_OUTAGE], [Indicator.MINOR])
    assert (kept.indicator, kept.description) == (Indicator.CRITICAL, "Major System Outage")


@pytest.mark.parametrize(
    ("severity", "worst", "impact"),
    [
        (Severity.SEV4, S.OPERATIONAL, "none"),
        (Severity.SEV3, S.OPERATIONAL, "minor"),
        (Severity.SEV2, S.OPERATIONAL, "major"),
        (Severity.SEV1, S.OPERATIONAL, "critical"),
        (Severity.SEV4, S.DEGRADED_PERFORMANCE, "minor"),
        (Severity.SEV4, S.PARTIAL_OUTAGE, "major"),
        (Severity.SEV3, S.MAJOR_OUTAGE, "critical"),
        (Severity.SEV1, S.DEGRADED_PERFORMANCE, "critical"),
        (Severity.SEV4, S.UNDER_MAINTENANCE, "none"),
    ],
)
def test_impact_is_the_worse_of_severity_and_component_status(severity, worst, impact):
    assert incident_impact(severity, worst).value == impact


def test_no_incidents_means_all_operational(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    view = build_view(session, clock=clock, settings=settings)
    assert view.status.indicator is Indicator.NONE
    assert view.status.description == "All Systems Operational"
    assert view.incidents == [] and view.past_incidents == [] and view.maintenances == []
    assert [g.name for g in view.groups][:3] == ["Online", "Payments", "Fulfilment"]
    assert all(c.status is S.OPERATIONAL for c in view.components)
    assert all(len(c.uptime_days) == 90 and c.uptime_percent == 100.0 for c in view.components)
    assert view.page.name == settings.retailer_name
    assert view.page.brand.primary_color == settings.brand_primary_color


def test_a_sev3_incident_without_components_makes_the_page_minor(
    session: Session, clock: FrozenClock, settings
):
    ensure_catalogue(session, clock)
    make_incident(session, clock, severity="SEV3", title="Some e-mails arrive late")
    view = build_view(session, clock=clock, settings=settings)
    assert view.incidents[0].impact is Indicator.MINOR
    assert view.status.indicator is Indicator.MINOR
    assert view.status.description == "Minor Service Outage"


def test_busy_page_view(session: Session, clock: FrozenClock, settings: Settings):
    busy = busy_page(session, clock)
    view = build_view(session, clock=clock, settings=settings)

    assert [i.ref for i in view.incidents] == [busy.open_ref]
    current = view.incidents[0]
    assert current.impact is Indicator.CRITICAL  # checkout went to major outage
    assert current.title.endswith(HOSTILE)  # stored as text; escaping is the renderers' job
    assert [u.body for u in current.updates] == [
        "We found the cause and are fixing it.",
        f"We are looking into checkout errors. {HOSTILE}",
    ]
    assert current.updates[0].posted_at > current.updates[1].posted_at
    assert {c.key: c.status for c in current.updates[0].components} == {
        "online-checkout": S.MAJOR_OUTAGE,
        "website": S.DEGRADED_PERFORMANCE,
    }
    assert current.customer_advice == "Please use the app or try again later."
    assert current.url == f"{settings.public_base_url}/#{busy.open_ref}"
    # SEV2: the next public update is due an hour after the last one (incidents/cadence.py).
    assert current.next_update_due == current.updates[0].posted_at + timedelta(minutes=60)

    assert [i.ref for i in view.past_incidents] == [busy.past_ref]
    past = view.past_incidents[0]
    assert past.state.value == "resolved" and past.resolved_at is not None
    assert past.impact is Indicator.CRITICAL  # SEV1 and a major outage while it lasted
    assert past.monitoring_at is not None and past.monitoring_at < past.resolved_at

    by_key = {c.key: c for c in view.components}
    assert by_key["online-checkout"].status is S.MAJOR_OUTAGE
    assert by_key["gift-cards"].status is S.UNDER_MAINTENANCE  # maintenance in progress
    assert by_key["loyalty-programme"].status is S.OPERATIONAL  # maintenance only scheduled
    assert by_key["card-payments"].status is S.OPERATIONAL
    assert view.status.indicator is Indicator.CRITICAL
    assert [m.ref for m in view.active_maintenances] == [busy.active_ref]
    assert [m.ref for m in view.upcoming_maintenances] == [busy.upcoming_ref]
    payments = next(g for g in view.groups if g.name == "Payments")
    assert payments.status is S.UNDER_MAINTENANCE

    # Card payments: 1 h major outage then 2 h partial outage two days before "today".
    days = {d.date: d for d in by_key["card-payments"].uptime_days}
    outage_day = days[datetime(2026, 11, 22).date()]
    assert outage_day.status is S.MAJOR_OUTAGE
    assert (outage_day.major_outage_seconds, outage_day.partial_outage_seconds) == (3600, 7200)
    assert outage_day.uptime_percent == pytest.approx(
        100 * (1 - (3600 + 0.3 * 7200) / 86400), abs=0.01
    )
    assert outage_day.incident_refs == [busy.past_ref]
    assert by_key["card-payments"].uptime_days[-1].status is S.OPERATIONAL


def test_nothing_private_reaches_the_view(session: Session, clock: FrozenClock, settings):
    busy_page(session, clock)
    dumped = build_view(session, clock=clock, settings=settings).model_dump_json()
    for secret in (
        SECRET_NOTE,
        SECRET_SUMMARY,
        STAFF_EMAIL,
        STAFF_NAME,
        "payment_card_number",
        "communications",
        "system:tests",
        "playbook",
    ):
        assert secret not in dumped, secret


def test_view_is_the_same_when_nothing_changed(session: Session, clock: FrozenClock, settings):
    busy_page(session, clock)
    first = build_view(session, clock=clock, settings=settings)
    again = build_view(session, clock=clock, settings=settings)
    assert first == again
    assert first.page.updated_at <= clock.now()


def test_page_updated_at_is_the_newest_change_not_the_render_time(
    session: Session, clock: FrozenClock, settings
):
    ensure_catalogue(session, clock)
    incident = make_incident(session, clock, components={"website": "partial_outage"})
    clock.advance(timedelta(hours=3))
    view = build_view(session, clock=clock, settings=settings)
    assert view.page.updated_at == incident.updated_at
    incidents.post_update(
        session, clock=clock, actor=ACTOR, ref=incident.ref, data=UpdatePost(body="Still on it.")
    )
    assert build_view(session, clock=clock, settings=settings).page.updated_at == clock.now()


def test_uptime_days_weights_and_overlaps():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    day = datetime(2026, 11, 19, tzinfo=UTC)
    intervals = [
        StatusInterval(
            incident_ref="A",
            status=S.MAJOR_OUTAGE,
            start=day + timedelta(hours=1),
            end=day + timedelta(hours=2),
        ),
        # overlaps the first hour: the worse status counts once
        StatusInterval(
            incident_ref="B",
            status=S.PARTIAL_OUTAGE,
            start=day + timedelta(hours=1, minutes=30),
            end=day + timedelta(hours=4),
        ),
        StatusInterval(
            incident_ref="C",
            status=S.DEGRADED_PERFORMANCE,
            start=day + timedelta(hours=5),
            end=day + timedelta(hours=6),
        ),
        # still going: counts up to now only
        StatusInterval(
            incident_ref="D", status=S.MAJOR_OUTAGE, start=now - timedelta(hours=1), end=None
        ),
    ]
    days, total = uptime_days(intervals, [], now=now, days=3)
    assert [d.date.isoformat() for d in days] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert days[0].uptime_percent == 100.0 and days[0].status is S.OPERATIONAL
    yesterday = days[1]
    assert (yesterday.major_outage_seconds, yesterday.partial_outage_seconds) == (3600, 7200)
    assert yesterday.status is S.MAJOR_OUTAGE
    assert yesterday.incident_refs == ["A", "B", "C"]
    assert yesterday.uptime_percent == 93.33  # 1 - (3600 + 0.3 * 7200) / 86400, rounded down
    today = days[2]
    assert today.major_outage_seconds == 3600
    assert today.uptime_percent == pytest.approx(100 * (1 - 3600 / (12 * 3600)), abs=0.01)
    window = 2 * 86400 + 12 * 3600
    assert total == pytest.approx(100 * (1 - (7200 + 0.3 * 7200) / window), abs=0.01)


def test_maintenance_time_is_not_downtime():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    days, total = uptime_days(
        [], [(now - timedelta(hours=2), now - timedelta(hours=1))], now=now, days=2
    )
    assert days[-1].status is S.UNDER_MAINTENANCE
    assert days[-1].uptime_percent == 100.0 and total == 100.0


def test_component_history_follows_the_timeline(session: Session, clock: FrozenClock):
    ensure_catalogue(session, clock)
    start = clock.now()
    incident = make_incident(
        session,
        clock,
        components={"website": "degraded_performance"},
        detected_at=start - timedelta(minutes=10),
    )
    clock.advance(timedelta(hours=1))
    incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=incident.ref,
        data=UpdatePost(
            body="Worse now.",
            components={"website": "major_outage", "mobile-app": "partial_outage"},
        ),
    )
    clock.advance(timedelta(hours=1))
    incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=incident.ref,
        data=UpdatePost(body="Fixed.", state="resolved"),
    )
    history = incidents.component_history(
        session, since=start - timedelta(days=1), until=clock.now()
    )
    website = [(i.status, i.start, i.end) for i in history["website"]]
    assert website == [
        (S.DEGRADED_PERFORMANCE, start - timedelta(minutes=10), start + timedelta(hours=1)),
        (S.MAJOR_OUTAGE, start + timedelta(hours=1), start + timedelta(hours=2)),
    ]
    assert [(i.status, i.end) for i in history["mobile-app"]] == [
        (S.PARTIAL_OUTAGE, start + timedelta(hours=2))
    ]
    assert {i.incident_ref for i in history["website"]} == {incident.ref}
    # A window after the incident sees nothing.
    later = incidents.component_history(
        session, since=clock.now() + timedelta(hours=1), until=clock.now() + timedelta(hours=2)
    )
    assert later == {}

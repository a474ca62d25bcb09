"""Statuspage v2 JSON: every endpoint, field by field, against the documented shapes."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from firstword.core.clock import FrozenClock
from firstword.statuspage import statuspage_v2
from firstword.statuspage.statuspage_v2 import sid
from firstword.statuspage.view import build_view
from tests.factories import ensure_catalogue
from tests.statuspage import statuspage_v2_schema as schema
from tests.statuspage.scenario import HOSTILE, SECRET_NOTE, STAFF_EMAIL, busy_page


def _render(session, clock, settings) -> dict[str, dict]:
    view = build_view(session, clock=clock, settings=settings)
    return {
        path.removeprefix("api/v2/"): json.loads(raw)
        for path, raw in statuspage_v2.render_all(view).items()
    }


def test_every_documented_endpoint_is_rendered(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    assert set(_render(session, clock, settings)) == set(schema.ENDPOINTS)


def test_the_checker_can_fail():
    good = {"indicator": "none", "description": "All Systems Operational"}
    assert schema.problems(good, schema.STATUS) == []
    assert schema.problems({**good, "indicator": "maintenance"}, schema.STATUS) == [
        "$.indicator: 'maintenance' not one of none, minor, major, critical"
    ]
    assert schema.problems({"indicator": "none"}, schema.STATUS) == ["$.description: missing"]
    assert schema.problems({**good, "extra": 1}, schema.STATUS) == ["$.extra: unexpected field"]
    page = {
        "id": "x",
        "name": "n",
        "url": "u",
        "time_zone": "Etc/UTC",
        "updated_at": "2026-11-20T09:00:00",
    }
    assert schema.problems(page, schema.PAGE) == [
        "$.updated_at: '2026-11-20T09:00:00' is not ISO-8601 with an offset"
    ]


def test_every_endpoint_matches_the_statuspage_shape(session: Session, clock, settings):
    busy_page(session, clock)
    docs = _render(session, clock, settings)
    found = {e: schema.problems(docs[e], schema.ENDPOINTS[e]) for e in sorted(schema.ENDPOINTS)}
    assert found == {e: [] for e in schema.ENDPOINTS}
    # Each list the page has something in is non-empty, so every nested shape was checked.
    for endpoint, key in [
        ("summary.json", "incidents"),
        ("summary.json", "components"),
        ("incidents.json", "incidents"),
        ("scheduled-maintenances.json", "scheduled_maintenances"),
    ]:
        assert docs[endpoint][key], (endpoint, key)


def test_summary_content(session: Session, clock: FrozenClock, settings):
    busy = busy_page(session, clock)
    docs = _render(session, clock, settings)
    summary = docs["summary.json"]
    page_id = summary["page"]["id"]
    assert summary["page"] == {
        "id": sid("page", settings.public_base_url),
        "name": settings.retailer_name,
        "url": settings.public_base_url,
        "time_zone": "Etc/UTC",
        "updated_at": summary["page"]["updated_at"],
    }
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}

    # Groups carry their members' ids; members point back to the group.
    by_id = {c["id"]: c for c in summary["components"]}
    groups = [c for c in summary["components"] if c["group"]]
    assert [g["name"] for g in groups][:2] == ["Online", "Payments"]
    for group in groups:
        for position, member_id in enumerate(group["components"], start=1):
            member = by_id[member_id]
            assert member["group_id"] == group["id"] and member["position"] == position
            assert member["page_id"] == page_id
    checkout = by_id[sid("component", "online-checkout")]
    assert checkout["status"] == "major_outage" and checkout["name"] == (
        "Online ordering and checkout"
    )
    assert by_id[sid("component", "gift-cards")]["status"] == "under_maintenance"

    [incident] = summary["incidents"]
    assert incident["id"] == busy.open_ref
    assert incident["status"] == "identified" and incident["impact"] == "critical"
    assert incident["name"] == f"Checkout errors {HOSTILE}"  # plain JSON string
    assert incident["shortlink"] == f"{settings.public_base_url}/#{busy.open_ref}"
    assert incident["resolved_at"] is None and incident["monitoring_at"] is None
    newest, oldest = incident["incident_updates"]
    assert newest["body"] == "We found the cause and are fixing it."
    assert oldest["body"] == f"We are looking into checkout errors. {HOSTILE}"
    assert newest["incident_id"] == busy.open_ref and newest["status"] == "identified"
    assert newest["affected_components"] == [
        {
            "code": sid("component", "online-checkout"),
            "name": "Online ordering and checkout",
            "old_status": "partial_outage",
            "new_status": "major_outage",
        },
        {
            "code": sid("component", "website"),
            "name": "Website",
            "old_status": "degraded_performance",
            "new_status": "degraded_performance",
        },
    ]
    assert {c["old_status"] for c in oldest["affected_components"]} == {"operational"}
    assert [c["id"] for c in incident["components"]] == [
        sid("component", "website"),
        sid("component", "online-checkout"),
    ]

    maintenances = {m["id"]: m for m in summary["scheduled_maintenances"]}
    assert set(maintenances) == {busy.active_ref, busy.upcoming_ref}
    active = maintenances[busy.active_ref]
    assert active["status"] == "in_progress" and active["impact"] == "maintenance"
    assert [u["status"] for u in active["incident_updates"]] == ["in_progress", "scheduled"]
    assert [c["id"] for c in active["components"]] == [sid("component", "gift-cards")]

    raw = json.dumps(docs)
    for secret in (SECRET_NOTE, STAFF_EMAIL, "SEV2", "payment_card_number"):
        assert secret not in raw


def test_list_endpoints(session: Session, clock: FrozenClock, settings):
    busy = busy_page(session, clock)
    docs = _render(session, clock, settings)
    assert [i["id"] for i in docs["incidents.json"]["incidents"]] == [busy.open_ref, busy.past_ref]
    assert [i["id"] for i in docs["incidents/unresolved.json"]["incidents"]] == [busy.open_ref]
    past = docs["incidents.json"]["incidents"][1]
    assert past["status"] == "resolved" and past["resolved_at"] is not None
    assert past["monitoring_at"] is not None and past["impact"] == "critical"
    assert [u["status"] for u in past["incident_updates"]] == ["resolved", "monitoring"]
    upcoming = docs["scheduled-maintenances/upcoming.json"]["scheduled_maintenances"]
    active = docs["scheduled-maintenances/active.json"]["scheduled_maintenances"]
    every = docs["scheduled-maintenances.json"]["scheduled_maintenances"]
    assert [m["id"] for m in upcoming] == [busy.upcoming_ref]
    assert [m["id"] for m in active] == [busy.active_ref]
    assert [m["id"] for m in every] == [busy.upcoming_ref, busy.active_ref]
    assert docs["status.json"]["status"]["indicator"] == "critical"
    assert docs["components.json"]["components"] == docs["summary.json"]["components"]


def test_quiet_page(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    docs = _render(session, clock, settings)
    assert docs["status.json"]["status"] == {
        "indicator": "none",
        "description": "All Systems Operational",
    }
    assert docs["summary.json"]["incidents"] == []
    assert docs["summary.json"]["scheduled_maintenances"] == []
    assert all(c["status"] == "operational" for c in docs["components.json"]["components"])
    for endpoint, document in docs.items():
        assert schema.problems(document, schema.ENDPOINTS[endpoint]) == []


def test_ids_are_stable_and_statuspage_shaped():
    assert sid("component", "website") == sid("component", "website")
    assert sid("component", "website") != sid("group", "website")
    assert len(sid("page", "x")) == 12 and sid("page", "x").isalnum()
    assert sid("page", "x").islower() or sid("page", "x").isdigit()

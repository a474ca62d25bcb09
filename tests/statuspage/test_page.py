"""The public page's content, rendered from a view built over real incidents."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

from sqlalchemy import func, select

from firstword.core.auth.roles import system_actor
from firstword.core.outbox import OutboxMessage
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentEdit, UpdatePost
from firstword.statuspage import render
from firstword.statuspage import service as statuspage
from firstword.statuspage.maintenance import MaintenanceSchedule, MaintenanceStep
from firstword.statuspage.view import HISTORY_DAYS
from tests.factories import ensure_catalogue
from tests.statuspage.page_support import (
    ADVICE,
    FIRST_UPDATE,
    HOSTILE,
    SECOND_UPDATE,
    page_html,
    parse,
    payment_incident,
    view_of,
)


def test_active_incident_shows_advice_state_impact_and_updates_newest_first(
    session, clock, settings
):
    incident = payment_incident(session, clock)
    html = page_html(session, clock, settings)
    doc = parse(html)

    card = next(a for a in doc.find_all("article") if a.attrs.get("id") == incident.ref)
    text = card.all_text()
    assert incident.title in text
    assert "Critical impact" in text  # SEV1 with a major outage
    assert "Identified" in text
    advice = card.find_all(cls="advice")[0].all_text()
    assert "What you can do" in advice and ADVICE in advice
    updates = [li.all_text() for li in card.find_all("ol", "updates")[0].find_all("li")]
    assert len(updates) == 2
    assert SECOND_UPDATE in updates[0] and FIRST_UPDATE in updates[1]
    affected = card.find_all("ul", "affected")[0].all_text()
    # worst first: the major outage before the degraded store estate
    assert affected.index("Chip and PIN card payments in store") < affected.index(
        "Stores in the UK"
    )
    assert "Major outage" in affected and "Degraded performance" in affected

    overall = doc.find_all("h1")[0].all_text()
    assert "Major system outage" in overall
    assert html.index('id="incidents-h"') < html.index('id="components-h"')  # incidents first


def test_every_component_has_ninety_labelled_days_and_its_uptime(session, clock, settings):
    payment_incident(session, clock)
    view = view_of(session, clock, settings)
    doc = parse(render.render_page(view, lang="en", settings=settings))

    components = doc.find_all("li", "component")
    assert len(components) == len(view.components) >= 17
    today = clock.now().strftime("%-d %b %Y")
    for node, component in zip(components, view.components, strict=True):
        assert component.name in node.all_text()
        bars = node.find_all("ol", "bar")
        assert len(bars) == 1
        cells = bars[0].find_all("li")
        assert len(cells) == HISTORY_DAYS == 90
        labels = [c.all_text() for c in cells]
        assert all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2,3} \d{4}: [A-Z][a-z ]+", x) for x in labels)
        assert labels[-1].startswith(today + ": ")
        assert f"{component.uptime_percent:.2f}% uptime" in node.all_text()

    card_payments = components[[c.key for c in view.components].index("card-payments")]
    last = card_payments.find_all("ol", "bar")[0].find_all("li")[-1]
    assert last.all_text() == f"{today}: Major outage"
    assert "d-major_outage" in last.classes()


def test_hostile_text_is_escaped_everywhere(session, clock, settings):
    incident = payment_incident(session, clock, title=f"Checkout down {HOSTILE}")
    incidents.edit_incident(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=incident.ref,
        data=IncidentEdit(customer_advice=f"Advice {HOSTILE}"),
    )
    incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=incident.ref,
        data=UpdatePost(body=f"Update {HOSTILE}"),
    )
    html = page_html(session, clock, settings)

    assert "<script" not in html
    assert "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 3
    doc = parse(html)
    assert f"Checkout down {HOSTILE}" in doc.find_all("h3")[0].all_text()


def test_page_needs_no_javascript_and_no_third_party_asset(session, clock, settings):
    payment_incident(session, clock)
    html = page_html(session, clock, settings)

    assert "<script" not in html.lower()
    assert " on" + "click" not in html and "javascript:" not in html
    assert ' style="' not in html  # no inline styles: the CSP allows only /status.css
    assert "<style" not in html
    base = settings.public_base_url.rstrip("/")
    urls = re.findall(r'\b(?:href|src)="([^"]*)"', html)
    assert urls
    for url in urls:
        assert url.startswith(("/", "#", "data:", base)), url
        assert not url.startswith("//")
    assert re.search(r'<link rel="stylesheet" href="/status\.css\?v=[0-9a-f]{12}">', html)
    meta_csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert meta_csp
    policy = unescape(meta_csp.group(1))
    assert policy.startswith("default-src 'none'; style-src 'self'; img-src 'self' data:")
    assert "frame-ancestors" not in policy  # ignored in <meta>; sent as a header


def test_all_operational_page(session, clock, settings):
    html = page_html(session, clock, settings)
    doc = parse(html)

    assert "All systems operational" in doc.find_all("h1")[0].all_text()
    assert 'id="incidents-h"' not in html
    assert "No incidents in the last 90 days." in html
    assert "tone-none" in html
    assert "Is my store affected?" in html
    for link in ("/history.atom", "/history.rss", "/api/v2/summary.json"):
        assert f'href="{link}"' in html


def test_page_invites_readers_to_get_updates_in_their_language(session, clock, settings):
    payment_incident(session, clock)
    for lang, words in (("en", "Get updates"), ("de", "Benachrichtigungen erhalten")):
        doc = parse(page_html(session, clock, settings, lang=lang))
        href = f"/subscribe?lang={lang}"
        links = [a for a in doc.find_all("a") if a.attrs.get("href") == href]
        cta = doc.find_all(cls="get-updates")[0].find_all("a")[0]
        assert cta.attrs["href"] == href and cta.all_text() == words
        assert any(
            href in {a.attrs.get("href") for a in f.find_all("a")} for f in doc.find_all("footer")
        )
        assert any(
            href in {a.attrs.get("href") for a in f.find_all("a")}
            for f in doc.find_all(cls="feeds")
        )
        assert len(links) == 3  # the call to action, the "Follow updates" list, the footer
        # component rows stay calm: no subscribe link per service
        for row in doc.find_all("li", "component"):
            assert not [a for a in row.find_all("a") if "/subscribe" in a.attrs.get("href", "")]


def test_next_update_promise_and_waiting_for_first_update(session, clock, settings):
    incident = payment_incident(session, clock)
    view = view_of(session, clock, settings)
    due = clock.now() + timedelta(minutes=30)
    promised = view.model_copy(
        update={"incidents": [view.incidents[0].model_copy(update={"next_update_due": due})]}
    )
    html = render.render_page(promised, lang="en", settings=settings)
    assert f"Next update by {due:%H:%M} UTC" in html
    unpromised = view.model_copy(
        update={"incidents": [view.incidents[0].model_copy(update={"next_update_due": None})]}
    )
    assert "Next update by" not in render.render_page(unpromised, lang="en", settings=settings)

    tomorrow = view.model_copy(
        update={
            "incidents": [
                view.incidents[0].model_copy(update={"next_update_due": due + timedelta(days=1)})
            ]
        }
    )
    later = due + timedelta(days=1)
    assert f"Next update by {later:%-d %b %Y, %H:%M} UTC" in render.render_page(
        tomorrow, lang="en", settings=settings
    )

    silent = view.model_copy(
        update={"incidents": [view.incidents[0].model_copy(update={"updates": []})]}
    )
    assert "will post an update here shortly" in render.render_page(
        silent, lang="en", settings=settings
    )
    assert incident.ref in html


def test_an_overdue_update_is_said_plainly_and_re_renders_the_page(session, clock, settings):
    """Past its "next update by" time the page must not keep showing a promise in the past:
    it says the update is overdue, and recording the miss queues a re-render."""
    incident = payment_incident(session, clock)
    due = view_of(session, clock, settings).incidents[0].next_update_due
    assert due is not None
    clock.advance(due - clock.now() - timedelta(minutes=1))
    on_time = page_html(session, clock, settings)
    assert f"Next update by {due:%H:%M} UTC" in on_time and "Update overdue" not in on_time

    clock.advance(timedelta(minutes=2))
    view = view_of(session, clock, settings)
    assert view.incidents[0].update_overdue
    late = render.render_page(view, lang="en", settings=settings)
    assert "Next update by" not in late
    overdue = parse(late).find_all("p", "next--overdue")
    assert len(overdue) == 1
    assert f"Update overdue: we promised one by {due:%H:%M} UTC" in overdue[0].all_text()
    german = render.render_page(view, lang="de", settings=settings)
    assert "Update überfällig" in german

    events_before = _rerender_events(session, incident.ref)
    incidents.check_overdue_updates(session, clock=clock)
    assert _rerender_events(session, incident.ref) == events_before + 1

    incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("test"),
        ref=incident.ref,
        data=UpdatePost(body="Still working on it.", state="identified"),
    )
    assert not view_of(session, clock, settings).incidents[0].update_overdue


def _rerender_events(session, ref: str) -> int:
    query = select(func.count()).where(
        OutboxMessage.topic == "incident.changed", OutboxMessage.reference == ref
    )
    return int(session.scalar(query) or 0)


def test_maintenance_and_past_incidents(session, clock, settings):
    resolved = payment_incident(session, clock, title="Gift card balance checks failing")
    clock.advance(timedelta(hours=1))
    incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=resolved.ref,
        data=UpdatePost(body="All fixed.", state="resolved"),
    )
    now = clock.now()
    statuspage.schedule_maintenance(
        session,
        clock=clock,
        actor=system_actor("tests"),
        data=MaintenanceSchedule(
            title="Loyalty points upgrade",
            body="Points may show late for an hour.",
            components=["loyalty-programme"],
            scheduled_for=now + timedelta(days=1),
            scheduled_until=now + timedelta(days=1, hours=2),
        ),
    )
    html = page_html(session, clock, settings)
    doc = parse(html)

    maintenance = doc.find_all("article", "maintenance")[0].all_text()
    assert "Loyalty points upgrade" in maintenance and "Scheduled" in maintenance
    start = (now + timedelta(days=1)).strftime("%-d %b %Y, %H:%M UTC")
    assert start in maintenance
    past = doc.find_all("ul", "past")[0]
    assert "Gift card balance checks failing" in past.all_text()
    assert "Show 3 updates" in past.all_text()
    assert "All fixed." in past.all_text()  # inside <details>: readable without JavaScript
    assert 'id="incidents-h"' not in html


def test_branding_logo_and_colours(session, clock, settings, tmp_path: Path):
    branded = settings.model_copy(
        update={
            "retailer_name": "Müller & Söhne <Markt>",
            "brand_logo_url": "/static/logo.svg",
            "brand_primary_color": "#ffd700",
        }
    )
    html = page_html(session, clock, branded)
    assert '<img src="/static/logo.svg" alt="Müller &amp; Söhne &lt;Markt&gt;">' in html
    css = render.render_css(branded)
    # gold is too light for white text and for links on white: dark text, default link colour
    assert "--brand: #ffd700; --brand-ink: #111827; --link: #1f5fbf;" in css
    assert render.css_version(branded) in html

    dark = render.brand_colors("#0a3")
    assert dark == {"brand": "#00aa33", "brand-ink": "#111827", "link": "#1f5fbf"}
    assert render.brand_colors("#003366") == {
        "brand": "#003366",
        "brand-ink": "#ffffff",
        "link": "#003366",
    }
    assert render.brand_colors("red;}body{display:none")["brand"] == "#1f5fbf"


def test_logo_must_be_same_origin_or_data():
    assert render.safe_logo_url("/logo.png") == "/logo.png"
    assert render.safe_logo_url("data:image/png;base64,AAAA") == "data:image/png;base64,AAAA"
    for bad in (
        "https://cdn.example.com/logo.png",
        "//cdn.example.com/x.png",
        "/\\evil.test",
        "javascript:alert(1)",
        "data:text/html,<b>",
        "/a b.png",
        None,
        "",
    ):
        assert render.safe_logo_url(bad) is None, bad


def test_maintenance_in_progress_sets_the_tone(session, clock, settings):
    ensure_catalogue(session, clock)
    now = clock.now()
    item = statuspage.schedule_maintenance(
        session,
        clock=clock,
        actor=system_actor("tests"),
        data=MaintenanceSchedule(
            title="Live chat upgrade",
            body="",
            components=["live-chat"],
            scheduled_for=now,
            scheduled_until=now + timedelta(hours=1),
        ),
    )
    statuspage.start_maintenance(
        session, clock=clock, actor=system_actor("tests"), ref=item.ref, data=MaintenanceStep()
    )
    clock.advance(timedelta(minutes=10))
    view = view_of(session, clock, settings)
    html = render.render_page(view, lang="de", settings=settings)
    doc = parse(html)
    assert "tone-maintenance" in html
    assert "Wartungsarbeiten" in doc.find_all("h1")[0].all_text()
    assert "Geplante Wartungsarbeiten laufen." in html
    chat = next(c for c in doc.find_all("li", "component") if "Live-Chat" in c.all_text())
    assert "Wartung" in chat.find_all(cls="st")[0].all_text()
    assert "d-under_maintenance" in chat.find_all("ol", "bar")[0].find_all("li")[-1].classes()

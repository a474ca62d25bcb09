"""The status page's console pages: the overview, compose from a template, preview (which
publishes nothing), publish (through the incidents service), signs and till texts."""

from __future__ import annotations

import io
import re
import sys
import types
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firstword.core.auth import service as auth
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.events import EVENT_CHANNEL
from firstword.core.outbox import OutboxMessage
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentRead, UpdatePost
from tests.factories import PASSWORD, make_incident, make_user

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


class Console:
    def __init__(self, client: Any, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> Any:
        form = dict(data) | ({"csrf_token": self.csrf} if csrf else {})
        return self.client.post(path, data=form, follow_redirects=False)


@pytest.fixture
def sign_in(client: Any, session: Session, clock: FrozenClock) -> Callable[..., Console]:
    def make(*roles: str) -> Console:
        user = make_user(session, clock, roles=roles or ("communications",))
        signed = auth.sign_in(session, clock=clock, email=user.email, password=PASSWORD, hours=12)
        client.cookies.clear()
        client.cookies.set("fw_session", signed.cookie_value)
        return Console(client, signed.csrf_token)

    return make


def _incident(session: Session, clock: FrozenClock, **overrides: Any) -> IncidentRead:
    fields: dict[str, Any] = {
        "kind": "payment_disruption",
        "severity": "SEV1",
        "title": "Contactless payments failing",
        "customer_advice": "Please pay by chip and PIN or cash.",
        "components": {"contactless-payments": "major_outage"},
    }
    return make_incident(session, clock, **(fields | overrides))


def _ok(response: Any, status: int = 200) -> str:
    assert response.status_code == status, response.text[:3000]
    return str(response.text)


def _updates(session: Session, clock: FrozenClock, ref: str) -> list[str]:
    return [u.body for u in incidents.get_incident(session, clock=clock, ref=ref).updates]


def _textarea(html: str) -> str:
    match = re.search(r'<textarea[^>]*name="body"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, "the compose textarea"
    return unescape(match.group(1))


def test_compose_fills_a_template_in_the_chosen_language(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    console = sign_in("communications")
    ref = _incident(session, clock).ref
    html = _ok(console.get(f"/console/statuspage/compose/{ref}"))
    assert 'name="csrf_token"' in html and console.csrf in html
    assert "Blank" in html and 'value="acknowledgement"' in html
    assert _textarea(html) == ""
    # The first word was due 15 minutes after detection; nothing has been posted yet.
    assert "Next public update due by 09:15 UTC (in 15 min)" in html

    english = _textarea(
        _ok(console.get(f"/console/statuspage/compose/{ref}?template=acknowledgement&lang=en"))
    )
    assert english.startswith("Some payments aren't going through right now.")
    assert "This affects: Contactless payments in store." in english
    assert "Please pay by chip and PIN or cash." in english
    assert english.endswith("We'll post our next update here by 09:30 UTC.")

    german = _textarea(
        _ok(console.get(f"/console/statuspage/compose/{ref}?template=identified&lang=de"))
    )
    assert "Weiterhin betroffen: Kontaktloses Bezahlen in der Filiale." in german
    assert german.endswith("Nächstes Update bis 09:30 UTC.")
    page = _ok(console.get(f"/console/statuspage/compose/{ref}?template=identified&lang=de"))
    assert '<option value="identified" selected>' in page  # the template's suggested state

    assert console.get(f"/console/statuspage/compose/{ref}?template=nope").status_code == 404
    assert console.get(f"/console/statuspage/compose/{ref}?lang=fr").status_code == 422
    assert console.get(f"/console/statuspage/compose/{ref}?lang=english").status_code == 422
    assert console.get("/console/statuspage/compose/INC-2026-9999").status_code == 404


def test_preview_escapes_keeps_line_breaks_and_publishes_nothing(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    console = sign_in("communications")
    ref = _incident(session, clock).ref
    events_before = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.channel == EVENT_CHANNEL)
    )
    body = f"Line one {SCRIPT}\n\nLine two & more"
    html = _ok(
        console.post(
            f"/console/statuspage/compose/{ref}",
            {"action": "preview", "lang": "de", "body": body, "state": "identified"},
        )
    )
    preview = html.split('data-testid="preview-public"', 1)[1].split("</article>", 1)[0]
    assert f"Line one {ESCAPED}\n\nLine two &amp; more" in preview  # escaped; pre-line keeps breaks
    assert SCRIPT not in html
    assert "Was Sie tun können" in preview and "Ursache gefunden" in preview  # German labels
    assert "Nächstes Update bis 09:30 UTC" in preview
    till = unescape(html.split('data-testid="preview-till">', 1)[1].split("</pre>", 1)[0])
    lines = till.rstrip("\n").split("\n")
    assert len(lines) <= 4 and all(len(line) <= 40 for line in lines)
    assert lines[0].startswith("Kontaktloses Bezahlen")
    assert _textarea(html) == body  # the text is kept for editing

    # Nothing was published: no update, no state change, no event for the status page.
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    assert incident.updates == [] and incident.state == "investigating"
    assert (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.channel == EVENT_CHANNEL)
        )
        == events_before
    )


def test_publish_posts_the_update(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    console = sign_in("communications")
    ref = _incident(session, clock).ref
    clock.advance(timedelta(minutes=5))
    response = console.post(
        f"/console/statuspage/compose/{ref}",
        {
            "action": "publish",
            "lang": "en",
            "template": "identified",
            "body": "We found the cause.\n\nPay by chip and PIN.",
            "state": "identified",
            "component.contactless-payments": "partial_outage",
            "was.contactless-payments": "major_outage",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/statuspage/compose/{ref}?published=1&lang=en"
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    assert [u.body for u in incident.updates] == ["We found the cause.\n\nPay by chip and PIN."]
    assert incident.state == "identified"
    assert incident.components[0].status == "partial_outage"
    assert incident.updates[0].posted_by == console_user_email(session, incident)
    done = _ok(console.get(response.headers["location"]))
    assert "Update published" in done
    assert f"/console/statuspage/signage/{ref}.pdf?lang=de" in done
    # The cadence restarts from this update: SEV1, 30 minutes.
    assert "Next public update due by 09:35 UTC (in 30 min)" in done


def test_publish_with_an_explicit_promise(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    console = sign_in("communications")
    ref = _incident(session, clock).ref
    page = _ok(console.get(f"/console/statuspage/compose/{ref}"))
    assert 'name="next_update_in_minutes"' in page and "By the cadence: 30 min" in page
    bad = console.post(
        f"/console/statuspage/compose/{ref}",
        {"action": "publish", "body": "Overnight.", "next_update_in_minutes": "99999"},
    )
    assert bad.status_code == 422 and _updates(session, clock, ref) == []
    response = console.post(
        f"/console/statuspage/compose/{ref}",
        {"action": "publish", "body": "Paused overnight.", "next_update_in_minutes": "480"},
    )
    assert response.status_code == 303
    incident = incidents.get_incident(session, clock=clock, ref=ref)
    assert incident.next_update_promised_at == clock.now() + timedelta(hours=8)
    done = _ok(console.get(response.headers["location"]))
    assert "Next public update due by 17:00 UTC (in 8 h" in done


def console_user_email(session: Session, incident: IncidentRead) -> str:
    communications = [u for u in auth.list_users(session) if "communications" in u.roles]
    assert incident.updates[0].posted_by in {u.email for u in communications}
    return incident.updates[0].posted_by


def test_refused_publish_keeps_the_text_and_names_the_field(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    console = sign_in("incident_commander")
    ref = _incident(session, clock).ref
    empty = _ok(
        console.post(f"/console/statuspage/compose/{ref}", {"action": "publish", "body": "  "}),
        422,
    )
    assert "field__error" in empty and _updates(session, clock, ref) == []
    bad_state = _ok(
        console.post(
            f"/console/statuspage/compose/{ref}",
            {"action": "publish", "body": "Kept text", "state": "postmortem"},
        ),
        422,
    )
    assert "cannot move from investigating to postmortem" in bad_state
    assert _textarea(bad_state) == "Kept text" and _updates(session, clock, ref) == []
    unknown = _ok(
        console.post(f"/console/statuspage/compose/{ref}", {"action": "shout", "body": "x"}), 422
    )
    assert "choose Preview or Publish" in unknown and _updates(session, clock, ref) == []


def test_compose_needs_csrf_and_a_publishing_role(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    ref = _incident(session, clock).ref
    console = sign_in("communications")
    no_csrf = console.post(
        f"/console/statuspage/compose/{ref}", {"action": "publish", "body": "x"}, csrf=False
    )
    assert no_csrf.status_code == 403 and _updates(session, clock, ref) == []
    legal = sign_in("legal")
    assert legal.get(f"/console/statuspage/compose/{ref}").status_code == 403
    refused = legal.post(f"/console/statuspage/compose/{ref}", {"action": "publish", "body": "x"})
    assert refused.status_code == 403 and _updates(session, clock, ref) == []
    # Anyone on staff may see the overview and print signs.
    assert legal.get("/console/statuspage").status_code == 200


def test_overview_shows_status_cadence_subscribers_and_links(
    sign_in: Callable[..., Console],
    session: Session,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet = _incident(session, clock, title=f"Quiet one {SCRIPT}")
    told = _incident(
        session,
        clock,
        kind="outage",
        severity="SEV2",
        title="Website slow",
        components={"website": "degraded_performance"},
    )
    incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=told.ref,
        data=UpdatePost(body="Looking into it."),
    )
    clock.advance(timedelta(minutes=22))
    console = sign_in("communications")
    html = _ok(console.get("/console/statuspage"))
    assert 'aria-current="page">Status page</a>' in html  # the console navigation entry
    assert "Major System Outage" in html or "Partial System Outage" in html
    assert ESCAPED in html and SCRIPT not in html
    assert "overdue by 7 min" in html.split(f'data-testid="due-{quiet.ref}"', 1)[1][:300]
    assert "by 10:00 UTC (in 38 min)" in html.split(f'data-testid="due-{told.ref}"', 1)[1][:300]
    assert f'href="/console/statuspage/compose/{quiet.ref}"' in html
    assert f"/console/statuspage/signage/{told.ref}.pdf?lang=de" in html
    assert f"/console/statuspage/till/{told.ref}.txt?lang=en" in html
    assert "after the first public update" in html  # the quiet one has nothing to print yet

    import firstword.statuspage.console_pages as pages

    monkeypatch.setattr(pages, "subscriber_counts", lambda _session, _clock: None)
    assert "Subscriptions not set up." in _ok(console.get("/console/statuspage"))
    monkeypatch.setattr(
        pages, "subscriber_counts", lambda _session, _clock: [("Email", "12"), ("Sms", "3")]
    )
    counted = _ok(console.get("/console/statuspage"))
    assert "<dt>Email</dt><dd>12</dd>" in counted


def test_subscriber_counts_read_the_subscriptions_part(
    session: Session, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firstword.statuspage import console_pages

    rows = console_pages.subscriber_counts(session, clock)
    assert rows is not None, "the subscriptions part is installed"
    assert ("Confirmed", "0") in rows

    fake = types.ModuleType("firstword.statuspage.subscriptions")
    fake.subscriber_summary = lambda _s: {"email": 5, "by_component": {"website": 2}}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "firstword.statuspage.subscriptions", fake)
    assert console_pages.subscriber_counts(session, clock) == [
        ("Email", "5"),
        ("By component", "website: 2"),
    ]
    monkeypatch.setitem(
        sys.modules, "firstword.statuspage.subscriptions", types.ModuleType("empty")
    )
    assert console_pages.subscriber_counts(session, clock) is None


def test_sign_and_till_routes(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock, pdf_ready: None
) -> None:
    ref = _incident(session, clock).ref
    console = sign_in("viewer")
    assert console.get(f"/console/statuspage/till/{ref}.txt").status_code == 409  # no update yet
    incidents.post_update(
        session,
        clock=clock,
        actor=system_actor("tests"),
        ref=ref,
        data=UpdatePost(body="Tap-to-pay is failing."),
    )
    till = console.get(f"/console/statuspage/till/{ref}.txt?store=DE-BER-001")
    assert till.status_code == 200 and till.headers["content-type"].startswith("text/plain")
    lines = till.text.rstrip("\n").split("\n")
    assert lines[0].startswith("Kontaktloses Bezahlen") and len(lines) <= 4
    assert all(len(line) <= 40 for line in lines)

    pdf = console.get(f"/console/statuspage/signage/{ref}.pdf?lang=en")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{ref}-en.pdf"' in pdf.headers["content-disposition"]
    text = " ".join(PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().split())
    assert "Contactless payments in store: not working" in text

    assert console.get(f"/console/statuspage/till/{ref}.txt?store=NOPE").status_code == 404
    assert console.get(f"/console/statuspage/till/{ref}.txt?lang=xx").status_code == 422
    assert console.get("/console/statuspage/assets/console.css").status_code == 200


def test_the_incident_page_shows_the_cadence_and_links_to_compose(
    sign_in: Callable[..., Console], session: Session, clock: FrozenClock
) -> None:
    ref = _incident(session, clock, severity="SEV2").ref
    console = sign_in("communications")
    clock.advance(timedelta(minutes=3))
    html = _ok(console.get(f"/console/incidents/{ref}"))
    due = html.split('data-testid="next-update-due"', 1)[1].split("</p>", 1)[0]
    assert "Next public update due by" in due and "09:15 UTC" in due and "in 12 min" in due
    assert "clock__due--overdue" not in html
    assert "SEV2: the first public word is due within 15 min of detection" in html
    assert f'href="/console/statuspage/compose/{ref}"' in html

    clock.advance(timedelta(minutes=19))
    late = _ok(console.get(f"/console/incidents/{ref}/clock-panel"))
    assert "clock__due--overdue" in late and "overdue by 7 min" in late
    listed = _ok(console.get("/console/incidents"))
    assert "update overdue by 7 min" in listed

    incidents.post_update(
        session, clock=clock, actor=system_actor("tests"), ref=ref, data=UpdatePost(body="On it.")
    )
    fresh = _ok(console.get(f"/console/incidents/{ref}/clock-panel"))
    assert "due by" in fresh and "10:22 UTC" in fresh and "in 1 h" in fresh
    assert "SEV2: update customers at least every 1 h while" in fresh

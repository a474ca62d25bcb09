"""Atom and RSS feeds of the incident history, read back with a real feed parser."""

from __future__ import annotations

import feedparser
import pytest
from sqlalchemy.orm import Session

from firstword.core.clock import FrozenClock
from firstword.statuspage import feeds
from firstword.statuspage.view import build_view
from tests.factories import ensure_catalogue
from tests.statuspage.scenario import HOSTILE, SECRET_NOTE, STAFF_EMAIL, busy_page


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_feed_parses_and_lists_incidents_and_maintenance(
    kind, session: Session, clock: FrozenClock, settings
):
    busy = busy_page(session, clock)
    view = build_view(session, clock=clock, settings=settings)
    raw = feeds.atom(view) if kind == "atom" else feeds.rss(view)
    parsed = feedparser.parse(raw)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == ("atom10" if kind == "atom" else "rss20")
    assert parsed.feed.title == f"{settings.retailer_name} status - incident history"
    assert parsed.feed.link == f"{settings.public_base_url}/"

    entries = {e.link.rsplit("#", 1)[1]: e for e in parsed.entries}
    assert set(entries) == {busy.open_ref, busy.past_ref, busy.active_ref, busy.upcoming_ref}
    # Newest change first: the maintenance started last.
    assert parsed.entries[0].link.endswith(busy.active_ref)

    current = entries[busy.open_ref]
    assert current.title == f"Checkout errors {HOSTILE}"  # the parser unescapes the XML
    html = current.content[0].value if kind == "atom" else current.description
    # Staff text is escaped inside the entry's HTML: no live tag reaches a feed reader.
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.index("We found the cause") < html.index("We are looking into")
    assert "Please use the app" in html
    assert current.id.endswith(f"Incident/{busy.open_ref}")

    past = entries[busy.past_ref]
    text = past.content[0].value if kind == "atom" else past.description
    assert "Card payments work again" in text and "Resolved" in text
    for secret in (SECRET_NOTE, STAFF_EMAIL):
        assert secret.encode() not in raw


def test_feeds_are_identical_when_nothing_changed(session: Session, clock: FrozenClock, settings):
    busy_page(session, clock)
    first = build_view(session, clock=clock, settings=settings)
    again = build_view(session, clock=clock, settings=settings)
    assert feeds.atom(first) == feeds.atom(again)
    assert feeds.rss(first) == feeds.rss(again)


def test_empty_history_is_a_valid_feed(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    view = build_view(session, clock=clock, settings=settings)
    for raw in (feeds.atom(view), feeds.rss(view)):
        parsed = feedparser.parse(raw)
        assert not parsed.bozo and parsed.entries == []

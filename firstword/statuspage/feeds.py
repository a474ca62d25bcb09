"""Atom and RSS 2.0 feeds of the incident history (history.atom, history.rss).

Like Statuspage's own feeds: one entry per incident (and per scheduled maintenance), its
public updates newest first in the entry's HTML content, the entry's `updated` moving with
each update so feed readers show it again. Only what the page shows is in the feed; staff
text is HTML-escaped before it is put into the entry's HTML.

The feeds carry the view's newest change as their own update time (never the render time),
so re-rendering unchanged data gives the same bytes and the same ETag.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]

from firstword import __version__
from firstword.statuspage.view import IncidentView, MaintenanceView, StatusView

MAX_ENTRIES = 50


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def _paragraphs(text: str) -> str:
    return "<br>".join(escape(line) for line in text.splitlines())


def incident_html(incident: IncidentView) -> str:
    parts = [
        f"<p><small>{escape(_when(u.posted_at))}</small><br>"
        f"<strong>{escape(_label(u.state.value))}</strong> - {_paragraphs(u.body)}</p>"
        for u in incident.updates
    ]
    if incident.customer_advice:
        parts.append(
            f"<p><strong>What you can do</strong> - {_paragraphs(incident.customer_advice)}</p>"
        )
    if incident.components:
        names = ", ".join(escape(c.name) for c in incident.components)
        parts.append(f"<p>Affected: {names}</p>")
    return "\n".join(parts) or f"<p>{escape(_label(incident.state.value))}</p>"


def maintenance_html(item: MaintenanceView) -> str:
    window = f"{_when(item.scheduled_for)} – {_when(item.scheduled_until)}"
    parts = [f"<p><strong>Scheduled</strong> - {escape(window)}</p>"]
    parts += [
        f"<p><small>{escape(_when(u.posted_at))}</small><br>"
        f"<strong>{escape(_label(u.status.value))}</strong> - {_paragraphs(u.body)}</p>"
        for u in item.updates
    ]
    if item.components:
        parts.append(f"<p>Affected: {', '.join(escape(c.name) for c in item.components)}</p>")
    return "\n".join(parts)


def _generator(view: StatusView, *, self_path: str) -> FeedGenerator:
    base = view.page.url
    host = urlsplit(base).hostname or "localhost"
    feed = FeedGenerator()
    feed.id(f"tag:{host},2005:/history")
    feed.title(f"{view.page.name} status - incident history")
    # feedgen takes RSS's channel <link> from the last link given: the page, not the feed.
    feed.link(href=f"{base}/{self_path}", rel="self")
    feed.link(href=f"{base}/", rel="alternate")
    feed.description(f"Incidents and scheduled maintenance on the {view.page.name} status page")
    feed.language("en")
    feed.generator("firstword", version=__version__)
    feed.updated(view.page.updated_at)
    feed.lastBuildDate(view.page.updated_at)

    entries: list[tuple[datetime, str, str, str, str, datetime]] = []
    for incident in [*view.incidents, *view.past_incidents]:
        entries.append(
            (
                incident.updated_at,
                f"Incident/{incident.ref}",
                incident.title,
                incident.url,
                incident_html(incident),
                incident.created_at,
            )
        )
    for item in [*view.maintenances, *view.past_maintenances]:
        entries.append(
            (
                item.updated_at,
                f"Maintenance/{item.ref}",
                item.title,
                item.url,
                maintenance_html(item),
                item.created_at,
            )
        )
    entries.sort(key=lambda e: (e[0], e[1]), reverse=True)
    for updated, key, title, url, content, published in entries[:MAX_ENTRIES]:
        entry = feed.add_entry(order="append")
        entry.id(f"tag:{host},2005:{key}")
        entry.guid(f"tag:{host},2005:{key}", permalink=False)
        entry.title(title)
        entry.link(href=url)
        entry.published(published)
        entry.updated(updated)
        entry.description(content)
        entry.content(content, type="html")
    return feed


def atom(view: StatusView) -> bytes:
    result: bytes = _generator(view, self_path="history.atom").atom_str(pretty=True)
    return result


def rss(view: StatusView) -> bytes:
    result: bytes = _generator(view, self_path="history.rss").rss_str(pretty=True)
    return result

"""Rendering once per change: every file written, unchanged files left alone, the last good
snapshot kept when rendering fails, and the event handlers that trigger it."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core import events, outbox
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.db import transaction
from firstword.incidents import service as incidents
from firstword.incidents.schemas import UpdatePost
from firstword.incidents.timeline import INCIDENT_CHANGED
from firstword.statuspage import service as statuspage
from firstword.statuspage import snapshot
from firstword.statuspage.models import StatusArtifact
from firstword.statuspage.snapshot import banner_document, rebuild
from firstword.statuspage.view import build_view
from tests.factories import ensure_catalogue, make_incident
from tests.statuspage.scenario import busy_page

ACTOR = system_actor("tests")
API = [
    f"api/v2/{p}"
    for p in (
        "summary.json",
        "status.json",
        "components.json",
        "incidents.json",
        "incidents/unresolved.json",
        "scheduled-maintenances.json",
        "scheduled-maintenances/upcoming.json",
        "scheduled-maintenances/active.json",
    )
]


def _rows(session: Session) -> dict[str, StatusArtifact]:
    session.expire_all()
    return {r.path: r for r in session.scalars(select(StatusArtifact))}


def test_first_rebuild_writes_every_file(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    report = rebuild(session, clock=clock, settings=settings)
    assert report.ok and report.skipped == []
    rows = _rows(session)
    expected = {
        *API,
        "history.atom",
        "history.rss",
        "banner.json",
        "banner.js",
        "status.css",
        "index.en.html",
        "index.de.html",
        "stores.en.html",
        "stores.de.html",
        "subscribe.en.html",
        "subscribe.de.html",
        snapshot.BUILT_ON,
    }
    assert set(rows) == expected == set(report.written)
    for row in rows.values():
        assert row.etag == snapshot.etag_of(row.content)
        assert row.rendered_at == clock.now()
    assert rows["api/v2/status.json"].content_type == "application/json; charset=utf-8"
    assert rows["index.de.html"].content_type == "text/html; charset=utf-8"
    assert rows["history.atom"].content_type.startswith("application/atom+xml")
    assert b'lang="de"' in rows["index.de.html"].content


def test_rebuild_without_changes_writes_nothing(session: Session, clock: FrozenClock, settings):
    busy_page(session, clock)
    rebuild(session, clock=clock, settings=settings)
    before = {p: (r.etag, r.rendered_at) for p, r in _rows(session).items()}
    clock.advance(timedelta(minutes=1))
    report = rebuild(session, clock=clock, settings=settings)
    assert report.ok and report.written == [] and len(report.unchanged) == len(before)
    after = {p: (r.etag, r.rendered_at) for p, r in _rows(session).items()}
    assert after == before  # same ETags, same Last-Modified


def test_a_change_rewrites_only_what_changed(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    rebuild(session, clock=clock, settings=settings)
    before = {p: r.etag for p, r in _rows(session).items()}
    clock.advance(timedelta(minutes=5))
    make_incident(session, clock, components={"website": "partial_outage"})
    report = rebuild(session, clock=clock, settings=settings)
    changed = set(report.written)
    assert {
        "api/v2/summary.json",
        "api/v2/incidents.json",
        "banner.json",
        "index.en.html",
        "history.atom",
    } <= changed
    # Every JSON document carries page.updated_at; the banner script and stylesheet do not
    # depend on incidents, and the day of the build stayed the same.
    assert {"banner.js", "status.css", snapshot.BUILT_ON}.isdisjoint(changed)
    rows = _rows(session)
    for path in changed:
        assert rows[path].etag != before[path] and rows[path].rendered_at == clock.now()


def test_render_failure_keeps_the_last_good_snapshot(
    session: Session, clock: FrozenClock, settings, monkeypatch, caplog
):
    ensure_catalogue(session, clock)
    rebuild(session, clock=clock, settings=settings)
    good = {p: (r.etag, r.content) for p, r in _rows(session).items()}

    import firstword.statuspage.render as render

    def broken(*_args, **_kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(render, "render_page", broken)
    clock.advance(timedelta(minutes=1))
    make_incident(session, clock, components={"website": "major_outage"})
    with caplog.at_level(logging.ERROR, logger="firstword.statuspage"):
        report = rebuild(session, clock=clock, settings=settings)
    assert not report.ok
    assert report.errors == ["RuntimeError: template exploded"]
    assert report.written == []
    assert "previous snapshot stays" in caplog.text
    # Nothing was written, not even the JSON that did render: the snapshot stays whole.
    assert {p: (r.etag, r.content) for p, r in _rows(session).items()} == good

    monkeypatch.undo()
    fixed = rebuild(session, clock=clock, settings=settings)
    assert fixed.ok and "api/v2/summary.json" in fixed.written


def test_without_the_page_renderer_the_rest_is_still_rendered(
    session: Session, clock: FrozenClock, settings, monkeypatch, caplog
):
    monkeypatch.setattr(snapshot, "RENDER_MODULE", "firstword.statuspage.no_such_renderer")
    ensure_catalogue(session, clock)
    with caplog.at_level(logging.WARNING, logger="firstword.statuspage"):
        report = rebuild(session, clock=clock, settings=settings)
    assert report.ok and report.skipped == ["html", "banner.js", "status.css"]
    assert "not available yet" in caplog.text
    assert set(_rows(session)) == {
        *API,
        "history.atom",
        "history.rss",
        "banner.json",
        snapshot.BUILT_ON,
    }


def test_banner_document(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    quiet = banner_document(build_view(session, clock=clock, settings=settings))
    assert quiet["status"] == "none" and set(quiet) == {"status", "updated_at"}

    incident = make_incident(session, clock, title="Payments down <b>now</b>", severity="SEV4")
    banner = banner_document(build_view(session, clock=clock, settings=settings))
    assert banner["status"] == "minor"  # any open incident shows, at least as minor
    assert banner["headline"] == "Payments down <b>now</b>"
    assert banner["url"] == f"{settings.public_base_url}/#{incident.ref}"
    assert banner["incidents"] == 1

    worse = make_incident(session, clock, title="Checkout down", severity="SEV1")
    banner = banner_document(build_view(session, clock=clock, settings=settings))
    assert (banner["status"], banner["headline"]) == ("critical", "Checkout down")
    assert banner["url"].endswith(worse.ref) and banner["incidents"] == 2


def test_banner_shows_maintenance_in_progress(session: Session, clock: FrozenClock, settings):
    busy = busy_page(session, clock)
    for ref in (busy.open_ref,):
        incidents.post_update(
            session,
            clock=clock,
            actor=ACTOR,
            ref=ref,
            data=UpdatePost(body="Fixed.", state="resolved"),
        )
    banner = banner_document(build_view(session, clock=clock, settings=settings))
    assert banner["status"] == "maintenance"
    assert banner["headline"] == "Gift card system maintenance"
    assert banner["url"].endswith(busy.active_ref)


def test_event_handlers_rebuild_in_their_own_transaction(
    committing_context: Context, clock: FrozenClock
):
    context = committing_context
    handlers = statuspage.event_handlers(context)
    assert set(handlers) == {INCIDENT_CHANGED, statuspage.MAINTENANCE_CHANGED}
    assert statuspage.INCIDENT_CHANGED == INCIDENT_CHANGED
    with transaction(context.sessionmaker) as session:
        ensure_catalogue(session, clock)
        incident = make_incident(session, clock, components={"website": "major_outage"})
        # The change published the event in its own transaction.
        queued = outbox.claim(
            session,
            clock=clock,
            worker_id="t",
            batch_size=50,
            lease_seconds=60,
            channels={events.EVENT_CHANNEL},
        )
    assert any(m.recipient == INCIDENT_CHANGED for m in queued)

    channel = events.EventChannel(handlers)
    message = next(m for m in queued if m.recipient == INCIDENT_CHANGED)
    result = channel.send(message)
    assert result.outcome.value == "delivered", result.detail
    with transaction(context.sessionmaker) as session:
        summary = snapshot.get_artifact(session, "api/v2/summary.json")
        assert summary is not None
        assert json.loads(summary.content)["incidents"][0]["id"] == incident.ref


def test_failing_rebuild_makes_the_event_retry(
    committing_context: Context, clock: FrozenClock, monkeypatch
):
    import firstword.statuspage.render as render

    monkeypatch.setattr(render, "render_banner_js", lambda _settings: 1 / 0)
    handler = statuspage.event_handlers(committing_context)[INCIDENT_CHANGED][0]
    with pytest.raises(statuspage.RebuildError, match="ZeroDivisionError"):
        handler({"ref": "INC-2026-0001"})


def test_a_snapshot_from_yesterday_is_noticed(session: Session, clock: FrozenClock, settings):
    ensure_catalogue(session, clock)
    assert snapshot.built_for_an_earlier_day(session, clock=clock)  # never built
    rebuild(session, clock=clock, settings=settings)
    assert not snapshot.built_for_an_earlier_day(session, clock=clock)
    clock.advance(timedelta(hours=23, minutes=59))
    assert snapshot.built_for_an_earlier_day(session, clock=clock)  # 09:00 + 23:59 = next day
    report = rebuild(session, clock=clock, settings=settings)
    assert snapshot.BUILT_ON in report.written and "index.en.html" in report.written
    assert not snapshot.built_for_an_earlier_day(session, clock=clock)

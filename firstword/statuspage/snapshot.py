"""The public site, rendered once per change into the `statuspage_artifacts` table.

`rebuild` builds the StatusView once and renders every file of the public site from it: the
page in each language, its stylesheet, the Statuspage v2 JSON, the Atom/RSS feeds and the
banner (script + banner.json). The web app and the static export serve these bytes as they
are; nothing is rendered per request.

All or nothing: if building the view or rendering any file fails, no row is written, so the
last good snapshot keeps being served whole (never a new page beside old JSON), and the
error is logged and reported. Only files whose bytes changed are written, so the ETag
(a SHA-256 of the bytes) and Last-Modified (`rendered_at`) stay put while nothing changes.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from firstword.core.clock import Clock
from firstword.core.db import is_postgresql
from firstword.core.errors import InvalidInput
from firstword.core.ids import sha256_hex
from firstword.core.settings import Settings
from firstword.statuspage import feeds, statuspage_v2
from firstword.statuspage.models import StatusArtifact
from firstword.statuspage.statuspage_v2 import ts
from firstword.statuspage.stores import cached_stores
from firstword.statuspage.view import (
    INDICATOR_RANK,
    Indicator,
    StatusView,
    build_view,
)

log = logging.getLogger("firstword.statuspage")

_REBUILD_LOCK = 7243010  # PostgreSQL advisory lock: one rebuild at a time, newest data wins
RENDER_MODULE = "firstword.statuspage.render"

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
CSS_TYPE = "text/css; charset=utf-8"
JS_TYPE = "text/javascript; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"

BANNER_JSON = "banner.json"
BANNER_JS = "banner.js"
CSS_FILE = "status.css"
ATOM_FILE = "history.atom"
RSS_FILE = "history.rss"
# Not served: the UTC day of the last rebuild, so a server can tell that the 90-day uptime
# history needs a new day (rendered_at only moves when some file's bytes change).
BUILT_ON = "_meta/built_on"
TEXT_TYPE = "text/plain; charset=utf-8"


def page_path(lang: str) -> str:
    return f"index.{lang}.html"


# For the static export only (the app answers /stores and /subscribe itself): every store
# with its status, and where to subscribe, per language.
def stores_path(lang: str) -> str:
    return f"stores.{lang}.html"


def subscribe_path(lang: str) -> str:
    return f"subscribe.{lang}.html"


@dataclass(frozen=True)
class Artifact:
    path: str
    content: bytes
    content_type: str
    etag: str
    rendered_at: datetime


@dataclass
class RebuildReport:
    """What one rebuild did. `errors` non-empty means nothing was written."""

    written: list[str] = field(default_factory=list)  # new or changed
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # parts that could not be rendered yet
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def line(self) -> str:
        return (
            f"written={len(self.written)} unchanged={len(self.unchanged)} "
            f"removed={len(self.removed)} skipped={len(self.skipped)} errors={len(self.errors)}"
        )


def etag_of(content: bytes) -> str:
    """A strong ETag: the quoted SHA-256 of the bytes."""
    return f'"sha256-{sha256_hex(content)}"'


def banner_document(view: StatusView) -> dict[str, Any]:
    """What the shop-front banner shows: the headline of the worst unresolved incident (at
    least `minor`, so any open incident shows), else of the maintenance in progress (status
    `maintenance`), else `{"status": "none"}` (show nothing)."""
    if view.incidents:
        top = max(
            view.incidents,
            key=lambda i: (INDICATOR_RANK[i.impact], i.updated_at, i.ref),
        )
        level = max(
            [view.status.indicator, top.impact, Indicator.MINOR], key=INDICATOR_RANK.__getitem__
        )
        return {
            "status": level.value,
            "description": view.status.description,
            "headline": top.title,
            "url": top.url,
            "incidents": len(view.incidents),
            "updated_at": ts(view.page.updated_at),
        }
    if view.active_maintenances:
        item = view.active_maintenances[0]
        return {
            "status": "maintenance",
            "description": view.status.description,
            "headline": item.title,
            "url": item.url,
            "incidents": 0,
            "updated_at": ts(view.page.updated_at),
        }
    if view.status.indicator is not Indicator.NONE:  # a component status without an incident
        return {
            "status": view.status.indicator.value,
            "description": view.status.description,
            "headline": view.status.description,
            "url": f"{view.page.url}/",
            "incidents": 0,
            "updated_at": ts(view.page.updated_at),
        }
    return {"status": "none", "updated_at": ts(view.page.updated_at)}


def view_day(view: StatusView) -> str:
    """The UTC day the view was built for (the last day of its uptime history)."""
    for component in view.components:
        return component.uptime_days[-1].date.isoformat()
    return view.page.updated_at.astimezone(UTC).date().isoformat()


def _html_renderers() -> tuple[Any, list[str]] | None:
    """The page renderer module and its languages, or None while it does not exist yet."""
    try:
        module = importlib.import_module(RENDER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != RENDER_MODULE:
            raise
        return None
    needed = ("render_page", "PAGE_LANGUAGES", "render_banner_js")
    if not all(hasattr(module, name) for name in needed):
        return None
    return module, list(module.PAGE_LANGUAGES)


def render_files(
    view: StatusView, *, settings: Settings, report: RebuildReport
) -> dict[str, tuple[bytes, str]]:
    """Every file of the public site from `view`: path -> (bytes, content type). Raises on
    the first renderer that fails (the caller then writes nothing)."""
    files: dict[str, tuple[bytes, str]] = {
        path: (content, JSON_TYPE) for path, content in statuspage_v2.render_all(view).items()
    }
    files[ATOM_FILE] = (feeds.atom(view), ATOM_TYPE)
    files[RSS_FILE] = (feeds.rss(view), RSS_TYPE)
    files[BANNER_JSON] = (statuspage_v2.encode(banner_document(view)), JSON_TYPE)
    files[BUILT_ON] = (view_day(view).encode(), TEXT_TYPE)
    found = _html_renderers()
    if found is None:
        log.warning("status page renderer (%s) not available yet: HTML not rendered", RENDER_MODULE)
        report.skipped += ["html", BANNER_JS, CSS_FILE]
        return files
    module, languages = found
    for lang in languages:
        page: str = module.render_page(view, lang=lang, settings=settings)
        files[page_path(lang)] = (page.encode(), HTML_TYPE)
        subscribe: str = module.render_subscribe_elsewhere(lang=lang, settings=settings)
        files[subscribe_path(lang)] = (subscribe.encode(), HTML_TYPE)
    _render_store_directories(
        module, languages, view, settings=settings, files=files, report=report
    )
    banner_js: str = module.render_banner_js(settings)
    files[BANNER_JS] = (banner_js.encode(), JS_TYPE)
    render_css: Callable[[Settings], str] | None = getattr(module, "render_css", None)
    if render_css is not None:
        files[CSS_FILE] = (render_css(settings).encode(), CSS_TYPE)
    else:
        report.skipped.append(CSS_FILE)
    return files


def _render_store_directories(
    module: Any,
    languages: list[str],
    view: StatusView,
    *,
    settings: Settings,
    files: dict[str, tuple[bytes, str]],
    report: RebuildReport,
) -> None:
    """The export's store list per language. A broken stores file must not hold back the
    status page itself: it is reported and the list left out (the last good one is kept)."""
    try:
        stores = cached_stores(settings.data_dir)
    except InvalidInput as exc:
        log.error("stores file unreadable; the exported store list is not updated: %s", exc)
        report.skipped += [stores_path(lang) for lang in languages]
        return
    for lang in languages:
        directory: str = module.render_store_directory(
            view, lang=lang, settings=settings, stores=stores
        )
        files[stores_path(lang)] = (directory.encode(), HTML_TYPE)


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    insert = pg_insert if is_postgresql(session) else sqlite_insert
    stmt = insert(StatusArtifact).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[StatusArtifact.path],
        set_={
            "content": stmt.excluded.content,
            "content_type": stmt.excluded.content_type,
            "etag": stmt.excluded.etag,
            "rendered_at": stmt.excluded.rendered_at,
        },
    )
    session.execute(stmt)


def rebuild(session: Session, *, clock: Clock, settings: Settings) -> RebuildReport:
    """Render the whole public site and store the files that changed (in the caller's
    transaction). Never raises for a rendering failure: see `RebuildReport.errors`."""
    report = RebuildReport()
    if is_postgresql(session):
        session.execute(text(f"SELECT pg_advisory_xact_lock({_REBUILD_LOCK})"))
    try:
        view = build_view(session, clock=clock, settings=settings)
        files = render_files(view, settings=settings, report=report)
    except Exception as exc:  # any failure: keep serving the last good snapshot
        log.exception("status page rebuild failed; the previous snapshot stays in place")
        report.errors.append(f"{type(exc).__name__}: {exc}")
        return report
    now = clock.now()
    stored = session.execute(select(StatusArtifact.path, StatusArtifact.etag))
    current = {row.path: row.etag for row in stored}
    rows: list[dict[str, Any]] = []
    for path, (content, content_type) in sorted(files.items()):
        etag = etag_of(content)
        if current.get(path) == etag:
            report.unchanged.append(path)
            continue
        rows.append(
            {
                "path": path,
                "content": content,
                "content_type": content_type,
                "etag": etag,
                "rendered_at": now,
            }
        )
        report.written.append(path)
    _upsert(session, rows)
    if not report.skipped:
        stale = sorted(set(current) - set(files))
        if stale:
            session.execute(delete(StatusArtifact).where(StatusArtifact.path.in_(stale)))
            report.removed = stale
    session.flush()
    if report.written or report.removed:
        log.info("status page rebuilt: %s", report.line())
    return report


# --- reading the snapshot ---------------------------------------------------------------------


def get_artifact(session: Session, path: str) -> Artifact | None:
    row = session.get(StatusArtifact, path)
    if row is None:
        return None
    return Artifact(row.path, row.content, row.content_type, row.etag, row.rendered_at)


def get_artifacts(session: Session, paths: Sequence[str]) -> list[Artifact]:
    if not paths:
        return []
    rows = session.scalars(select(StatusArtifact).where(StatusArtifact.path.in_(list(paths))))
    return [Artifact(r.path, r.content, r.content_type, r.etag, r.rendered_at) for r in rows]


def list_artifacts(session: Session, *, public_only: bool = True) -> list[Artifact]:
    """Every file of the snapshot (without the internal `_meta/` entries unless asked)."""
    rows = session.scalars(select(StatusArtifact).order_by(StatusArtifact.path))
    return [
        Artifact(r.path, r.content, r.content_type, r.etag, r.rendered_at)
        for r in rows
        if not (public_only and r.path.startswith("_meta/"))
    ]


def latest_change(session: Session) -> datetime | None:
    """When any file of the snapshot last changed (None: nothing rendered yet)."""
    value: datetime | None = session.scalar(select(func.max(StatusArtifact.rendered_at)))
    return value


def built_for_an_earlier_day(session: Session, *, clock: Clock) -> bool:
    """True when the stored snapshot was rendered on an earlier UTC day (or never), so its
    90-day uptime history lacks today."""
    marker = get_artifact(session, BUILT_ON)
    today = clock.now().astimezone(UTC).date().isoformat()
    return marker is None or marker.content.decode() < today


def banner_of(session: Session) -> dict[str, Any] | None:
    artifact = get_artifact(session, BANNER_JSON)
    if artifact is None:
        return None
    value: dict[str, Any] = json.loads(artifact.content)
    return value

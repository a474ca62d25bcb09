"""The public side of the status page over HTTP: the page, Statuspage v2 JSON, feeds, banner.

Every answer is a file of the rendered snapshot (snapshot.py), served from an in-process copy
that is re-validated against the `statuspage_artifacts` table at most once per
`CACHE_CHECK_SECONDS` (one small query: paths and ETags). A request never renders anything
and never reads the incident tables; most requests touch no database at all, and when the
database is unreachable the last copy keeps being served.

Caching for CDNs and reverse proxies: strong ETag (SHA-256 of the bytes), Last-Modified,
`Cache-Control: public, max-age=10, stale-while-revalidate=30, stale-if-error=86400` (page,
JSON, feeds, banner.json; banner.js and the stylesheet: max-age=300), 304 for
If-None-Match / If-Modified-Since. JSON, feeds and the banner carry
`Access-Control-Allow-Origin: *`: public data, read by shop pages and monitoring tools.
Files worth compressing are also kept gzip-compressed (export.precompressed: once per version,
not per request) and sent so to clients that accept gzip, with `Vary: Accept-Encoding`.

Each answer is worked out once per version of a file (`Prepared`: header lists, gzip body),
so serving is a dictionary lookup. edge.py serves these same answers in front of FastAPI's
routing; the routes below give the identical answers when it is not in front.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any, TypeVar

from babel.core import negotiate_locale
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import MutableHeaders

from firstword.context import Context
from firstword.core.db import transaction
from firstword.statuspage import snapshot, statuspage_v2
from firstword.statuspage.export import precompressed
from firstword.statuspage.models import StatusArtifact
from firstword.statuspage.snapshot import Artifact
from firstword.web.security import add_security_headers, rate_limited

F = TypeVar("F", bound=Callable[..., Response])

log = logging.getLogger("firstword.statuspage")

CACHE_CHECK_SECONDS = 1.0
REBUILD_RETRY_SECONDS = 60.0
SHORT_CACHE = "public, max-age=10, stale-while-revalidate=30, stale-if-error=86400"
LONG_CACHE = "public, max-age=300, stale-while-revalidate=600, stale-if-error=86400"
DEFAULT_LANGUAGE = "en"
CORS_PATHS_PREFIXES = ("api/v2/", "banner.", "history.")
API_PATHS = frozenset(f"api/v2/{p}" for p in statuspage_v2.ENDPOINTS)
LONG_CACHE_PATHS = frozenset({snapshot.BANNER_JS, snapshot.CSS_FILE})
RawHeaders = tuple[tuple[bytes, bytes], ...]

router = APIRouter(
    tags=["public status page"],
    dependencies=[Depends(rate_limited("public", "public_rate_limit_per_minute"))],
)


# --- the in-process copy of the snapshot ----------------------------------------------------


@dataclass
class SnapshotCache:
    """The snapshot's files in memory, re-checked against the table at most every
    `check_seconds` (real time, not the injected clock: this is about freshness)."""

    check_seconds: float = CACHE_CHECK_SECONDS
    files: dict[str, Artifact] = field(default_factory=dict)
    prepared: dict[str, Prepared] = field(default_factory=dict)
    languages: tuple[str, ...] = ()  # of the page, sorted
    checked_at: float | None = None
    rebuild_failed_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def due(self) -> bool:
        checked_at = self.checked_at
        return checked_at is None or time.monotonic() - checked_at >= self.check_seconds

    def refresh(self, context: Context, *, force: bool = False) -> None:
        if not (force or self.due()):
            return
        # One thread checks; the others keep serving the copy they have (if they have one).
        if not self._lock.acquire(blocking=self.checked_at is None):
            return
        try:
            if (
                not force
                and self.checked_at is not None
                and (time.monotonic() - self.checked_at < self.check_seconds)
            ):
                return
            self._reload(context)
            self.checked_at = time.monotonic()
        except Exception:  # the database is down or busy: serve what we have
            log.warning("could not re-check the status page snapshot", exc_info=True)
            self.checked_at = time.monotonic()
        finally:
            self._lock.release()

    def _reload(self, context: Context) -> None:
        with transaction(context.sessionmaker) as session:
            stored = _stored(session)
            stale_day = _built_before_today(stored, self.files, context)
            recently_failed = self.rebuild_failed_at is not None and (
                time.monotonic() - self.rebuild_failed_at < REBUILD_RETRY_SECONDS
            )
            if (not stored or stale_day) and not recently_failed:
                # First request ever, or the uptime history has a new day: render now (the
                # worker renders on every change; this covers a fresh install and midnight).
                report = snapshot.rebuild(session, clock=context.clock, settings=context.settings)
                if not report.ok:
                    log.error("status page rebuild on request failed: %s", report.errors)
                    self.rebuild_failed_at = time.monotonic()
                stored = _stored(session)
            changed = [p for p, etag in stored.items() if self._etag(p) != etag]
            fresh = {a.path: a for a in snapshot.get_artifacts(session, changed)}
        files = {p: a for p, a in self.files.items() if p in stored}
        files.update(fresh)
        hsts = context.settings.secure_cookies
        prepared = {
            path: (
                known
                if (known := self.prepared.get(path)) is not None
                and known.artifact is artifact
                and known.hsts == hsts
                else prepare(artifact, hsts=hsts)
            )
            for path, artifact in files.items()
            if not path.startswith("_meta/")
        }
        # Readers look answers up in `prepared` first: publish it before the language list.
        self.prepared = prepared
        self.files = files
        self.languages = tuple(
            sorted(
                p.removeprefix("index.").removesuffix(".html")
                for p in files
                if p.startswith("index.") and p.endswith(".html")
            )
        )

    def _etag(self, path: str) -> str | None:
        artifact = self.files.get(path)
        return artifact.etag if artifact else None


def _stored(session: Session) -> dict[str, str]:
    """path -> ETag of every stored file (small: no content)."""
    rows = session.execute(select(StatusArtifact.path, StatusArtifact.etag))
    return {row.path: row.etag for row in rows}


def _built_before_today(
    stored: dict[str, str], cached: dict[str, Artifact], context: Context
) -> bool:
    marker = cached.get(snapshot.BUILT_ON)
    if snapshot.BUILT_ON not in stored:
        return bool(stored)
    if marker is None or marker.etag != stored[snapshot.BUILT_ON]:
        return False  # the marker changed: reload it first, judge on the next check
    today = context.clock.now().astimezone(UTC).date().isoformat()
    return marker.content.decode() < today


_cache_lock = threading.Lock()


def cache_in(state: Any) -> SnapshotCache:
    """The app's copy (`app.state.statuspage_cache`), created on first use."""
    cache: SnapshotCache | None = getattr(state, "statuspage_cache", None)
    if cache is None:
        with _cache_lock:
            cache = getattr(state, "statuspage_cache", None)
            if cache is None:
                cache = state.statuspage_cache = SnapshotCache()
    return cache


def cache_of(request: Request) -> SnapshotCache:
    return cache_in(request.app.state)


# --- responses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """Every answer for one version of one file, worked out once: the headers that 200 and
    304 share (validators, caching, CORS, language, CSP and the security headers), and the
    gzip body when compressing pays. Both encodings carry the file's strong ETag: the bytes
    behind it are the same, and ranges are not served."""

    artifact: Artifact
    hsts: bool
    not_modified: RawHeaders
    identity: RawHeaders  # `not_modified` + type and length
    gzip_body: bytes | None
    gzip: RawHeaders | None  # `not_modified` + type, length and Content-Encoding


def _raw(headers: MutableHeaders) -> RawHeaders:
    return tuple((name, value) for name, value in headers.raw)


def prepare(artifact: Artifact, *, hsts: bool) -> Prepared:
    """The answers for `artifact` (page files get their language and `Vary`)."""
    compressed = precompressed(artifact.content)
    vary = []
    headers = MutableHeaders(raw=[])
    headers["ETag"] = artifact.etag
    headers["Last-Modified"] = format_datetime(artifact.rendered_at.astimezone(UTC), usegmt=True)
    headers["Cache-Control"] = LONG_CACHE if artifact.path in LONG_CACHE_PATHS else SHORT_CACHE
    if artifact.path.startswith("index.") and artifact.path.endswith(".html"):
        headers["Content-Language"] = artifact.path.removeprefix("index.").removesuffix(".html")
        vary.append("Accept-Language")
    if compressed is not None:
        vary.append("Accept-Encoding")
    if vary:
        headers["Vary"] = ", ".join(vary)
    if artifact.path.startswith(CORS_PATHS_PREFIXES):
        headers["Access-Control-Allow-Origin"] = "*"
    if artifact.content_type.startswith("text/html"):
        csp = _page_csp()
        if csp:
            headers["Content-Security-Policy"] = csp
    add_security_headers(headers, "/" + artifact.path, hsts=hsts)
    shared = _raw(headers)
    content_type = (b"content-type", artifact.content_type.encode("latin-1"))
    identity = (*shared, content_type, (b"content-length", b"%d" % len(artifact.content)))
    gzipped: RawHeaders | None = None
    if compressed is not None:
        gzipped = (
            *shared,
            content_type,
            (b"content-length", b"%d" % len(compressed)),
            (b"content-encoding", b"gzip"),
        )
    return Prepared(artifact, hsts, shared, identity, compressed, gzipped)


def answer(
    prepared: Prepared,
    *,
    head: bool,
    if_none_match: str | None,
    if_modified_since: str | None,
    accept_encoding: str | None,
) -> tuple[int, RawHeaders, bytes]:
    """(status, headers, body) for one request of a prepared file."""
    if not_modified(prepared.artifact, if_none_match, if_modified_since):
        return 304, prepared.not_modified, b""
    if prepared.gzip is not None and accept_encoding and accepts_gzip(accept_encoding):
        return 200, prepared.gzip, b"" if head else prepared.gzip_body or b""
    return 200, prepared.identity, b"" if head else prepared.artifact.content


@lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (`gzip`, `x-gzip` or `*`, q > 0)."""
    named: float | None = None
    anything: float | None = None
    for part in accept_encoding[:1000].split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            named = quality if named is None else max(named, quality)
        elif coding == "*":
            anything = quality
    chosen = named if named is not None else anything
    return chosen is not None and 0 < chosen <= 1


def not_modified(
    artifact: Artifact, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or artifact.etag in tags
    if if_modified_since:
        when = _http_date(if_modified_since)
        if when is None:
            return False
        return artifact.rendered_at.replace(microsecond=0) <= when
    return False


@lru_cache(maxsize=64)
def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else None


_csp: list[str] = []


def _page_csp() -> str | None:
    """The policy the page renderer builds its page for (looked up once it exists)."""
    if not _csp:
        try:
            module = importlib.import_module(snapshot.RENDER_MODULE)
        except ModuleNotFoundError:
            return None
        value = getattr(module, "PAGE_CSP", None)
        if not isinstance(value, str):
            return None
        _csp.append(value)
    return _csp[0]


def serve(request: Request, prepared: Prepared) -> Response:
    status, headers, body = answer(
        prepared,
        head=request.method == "HEAD",
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
        accept_encoding=request.headers.get("accept-encoding"),
    )
    response = Response(status_code=status)
    response.body = body
    response.raw_headers = list(headers)  # a copy: middleware appends to it
    return response


def _unavailable(what: str) -> Response:
    return JSONResponse(
        {"error": {"code": "not_ready", "message": f"the {what} is being prepared; try again"}},
        status_code=503,
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
    )


def _file(request: Request, path: str) -> Response:
    context: Context = request.app.state.context
    cache = cache_of(request)
    cache.refresh(context)
    prepared = cache.prepared.get(path)
    if prepared is None:
        return _unavailable(path)
    return serve(request, prepared)


def preferred_languages(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (q=0 and malformed
    entries dropped: a header is a hint, never an error)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "")[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or len(tag) > 35 or not all(c.isalnum() or c in "-_*" for c in tag):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if 0 < quality <= 1:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def choose_language(
    query: str | None, accept_language: str | None, available: Sequence[str]
) -> str:
    return _choose_language(query, accept_language, tuple(available))


@lru_cache(maxsize=512)
def _choose_language(
    query: str | None, accept_language: str | None, available: Sequence[str]
) -> str:
    """`?lang=` when it names an available language, else the best Accept-Language match
    (Babel's negotiate_locale, which also matches de-AT to de), else English."""
    if query:
        wanted = query.strip().replace("_", "-").split("-", 1)[0].lower()
        if wanted in available:
            return wanted
    preferred = preferred_languages(accept_language)
    found = negotiate_locale(preferred, list(available), sep="-") if preferred else None
    if found and found.lower() in available:
        return found.lower()
    return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in available else available[0]


# --- routes -------------------------------------------------------------------------------


def _get_and_head(path: str, *, include_in_schema: bool = True) -> Callable[[F], F]:
    """GET (documented) and HEAD (same function, not documented: one operation id each)."""

    def register(func: F) -> F:
        router.add_api_route(path, func, methods=["GET"], include_in_schema=include_in_schema)
        router.add_api_route(path, func, methods=["HEAD"], include_in_schema=False)
        return func

    return register


@_get_and_head("/", include_in_schema=False)
def status_page(request: Request) -> Response:
    """The status page, in the reader's language."""
    context: Context = request.app.state.context
    cache = cache_of(request)
    cache.refresh(context)
    available = cache.languages
    lang = (
        choose_language(
            request.query_params.get("lang"), request.headers.get("accept-language"), available
        )
        if available
        else None
    )
    prepared = cache.prepared.get(snapshot.page_path(lang)) if lang else None
    if prepared is None:
        return _unavailable("status page")
    return serve(request, prepared)


@_get_and_head("/api/v2/{endpoint:path}")
def statuspage_api(request: Request, endpoint: str) -> Response:
    """Atlassian Statuspage-compatible public API v2 (summary.json, status.json,
    components.json, incidents.json, incidents/unresolved.json, scheduled-maintenances.json,
    scheduled-maintenances/upcoming.json, scheduled-maintenances/active.json)."""
    path = f"api/v2/{endpoint}"
    if path not in API_PATHS:
        return JSONResponse(
            {"error": {"code": "not_found", "message": "there is nothing at this address"}},
            status_code=404,
            headers={"Access-Control-Allow-Origin": "*"},
        )
    return _file(request, path)


@_get_and_head("/history.atom")
def history_atom(request: Request) -> Response:
    """Atom feed of incidents and maintenance."""
    return _file(request, snapshot.ATOM_FILE)


@_get_and_head("/history.rss")
def history_rss(request: Request) -> Response:
    """RSS 2.0 feed of incidents and maintenance."""
    return _file(request, snapshot.RSS_FILE)


@_get_and_head("/banner.json")
def banner_json(request: Request) -> Response:
    """What the shop-front banner shows: {status, description, headline, url, incidents,
    updated_at}, or {status: "none"} when all is well."""
    return _file(request, snapshot.BANNER_JSON)


@_get_and_head("/banner.js", include_in_schema=False)
def banner_js(request: Request) -> Response:
    return _file(request, snapshot.BANNER_JS)


@_get_and_head("/status.css", include_in_schema=False)
def status_css(request: Request) -> Response:
    return _file(request, snapshot.CSS_FILE)

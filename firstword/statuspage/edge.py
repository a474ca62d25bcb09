"""The public status page's fast path, in front of FastAPI's routing.

In a surge nearly every request is `GET /` or `GET /api/v2/summary.json`. This small pure-ASGI
layer answers GET and HEAD for the public files (the page, the Statuspage v2 JSON, the feeds,
the banner and the stylesheet) straight from the snapshot cache that public.py keeps: the same
cache, the same prepared answers (ETag, Last-Modified, Cache-Control, Vary, Content-Language,
CORS, the page's CSP, the security headers, 304s, gzip), the same language negotiation, and
the same per-client rate limiter and setting (`public_rate_limit_per_minute`, one window
shared with the public routes). It skips routing, dependency injection, the request object
and the header middleware, which cost more than the answer itself.

Everything else goes on to the app unchanged: other paths and methods, unknown /api/v2
paths (404), and a cache with nothing to serve yet (the routes then answer 503 or render).
"""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

from firstword.context import Context
from firstword.statuspage import public, snapshot, statuspage_v2
from firstword.web.security import RateLimiter, add_security_headers, limiter_for

BUCKET = "public"  # the public routes' rate_limited("public", "public_rate_limit_per_minute")
PAGE = "/"
FILES: dict[str, str] = {f"/api/v2/{name}": f"api/v2/{name}" for name in statuspage_v2.ENDPOINTS}
FILES.update(
    {
        f"/{path}": path
        for path in (
            snapshot.ATOM_FILE,
            snapshot.RSS_FILE,
            snapshot.BANNER_JSON,
            snapshot.BANNER_JS,
            snapshot.CSS_FILE,
        )
    }
)
METHODS = frozenset({"GET", "HEAD"})


class PublicEdge:
    """ASGI app: serve the public snapshot files, hand everything else to `app`.

    `owner` is the Starlette/FastAPI app whose `state` holds the context, the snapshot cache
    and the rate limiters (web/app.py puts the edge in front of its own app this way)."""

    def __init__(self, app: ASGIApp, *, owner: Starlette) -> None:
        self.app = app
        self.owner = owner
        self._bound: tuple[Context, public.SnapshotCache, dict[str, RateLimiter]] | None = None
        self._rechecking = False  # only touched on the event loop's thread

    def _bind(self) -> tuple[Context, public.SnapshotCache, dict[str, RateLimiter]]:
        """The state's parts, looked up once (Starlette's State is slow to read)."""
        if self._bound is None:
            state = self.owner.state
            limiters = getattr(state, "rate_limiters", None)
            if limiters is None:
                limiters = state.rate_limiters = {}
            self._bound = (state.context, public.cache_in(state), limiters)
        return self._bound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        file = FILES.get(path)
        if file is None and path != PAGE:
            await self.app(scope, receive, send)
            return
        context, cache, limiters = self._bind()
        if cache.due() and (cache.checked_at is None or not self._rechecking):
            # At most once a second, one request re-checks the copy (one small query, in a
            # thread); meanwhile the others serve the copy they have rather than queue up.
            self._rechecking = True
            try:
                await run_in_threadpool(cache.refresh, context)
            finally:
                self._rechecking = False

        if_none_match = if_modified_since = accept_encoding = accept_language = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accept_encoding = accept_encoding or value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = if_none_match or value.decode("latin-1")
            elif name == b"if-modified-since":
                if_modified_since = if_modified_since or value.decode("latin-1")
            elif name == b"accept-language":
                accept_language = accept_language or value.decode("latin-1")
        if file is None:  # the page, in the reader's language
            languages = cache.languages
            if languages:
                lang = public.choose_language(_lang_query(scope), accept_language, languages)
                file = snapshot.page_path(lang)
        prepared = cache.prepared.get(file) if file else None
        if prepared is None:  # nothing to serve yet: the routes answer (503, or render)
            await self.app(scope, receive, send)
            return

        limit = int(context.settings.public_rate_limit_per_minute)
        client = scope.get("client")
        limiter = limiters.get(BUCKET)
        if limiter is None or limiter.limit != limit:
            limiter = limiter_for(Request({**scope, "app": self.owner}), BUCKET, limit)
        wait = limiter.hit(client[0] if client else "unknown")
        if wait is not None:
            await _too_many(send, path, max(1, math.ceil(wait)), hsts=prepared.hsts)
            return
        status, headers, body = public.answer(
            prepared,
            head=scope["method"] == "HEAD",
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
            accept_encoding=accept_encoding,
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _lang_query(scope: Scope) -> str | None:
    """`?lang=` as Starlette reads it (the last one wins)."""
    query: bytes = scope.get("query_string", b"")
    if not query or b"lang" not in query:
        return None
    return dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)).get("lang")


async def _too_many(send: Send, path: str, retry_after: int, *, hsts: bool) -> None:
    """The app's 429 (its RateLimited handler's JSON and headers), without the app."""
    message = f"too many requests; try again in {retry_after} seconds"
    body = json.dumps(
        {"error": {"code": "rate_limited", "message": message}},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    headers = MutableHeaders(raw=[])
    headers["Retry-After"] = str(retry_after)
    headers["Content-Length"] = str(len(body))
    headers["Content-Type"] = "application/json"
    add_security_headers(headers, path, hsts=hsts)
    await send({"type": "http.response.start", "status": 429, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})

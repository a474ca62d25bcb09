"""GET /stores?q=...: "Is my store affected?", the one public page rendered per request.

It is a small search over cached data: the stores file (re-read only when it changes) and
the status view, rebuilt only when the published snapshot changes (kept per app). The page
works without JavaScript; the form on the status page submits here. Rate-limited per client.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from firstword.context import Context
from firstword.core.db import transaction
from firstword.core.errors import InvalidInput
from firstword.statuspage import i18n, snapshot
from firstword.statuspage.public import choose_language
from firstword.statuspage.render import PAGE_CSP, PAGE_LANGUAGES, render_store_page
from firstword.statuspage.stores import MAX_QUERY, cached_stores, lookup, unknown_components
from firstword.statuspage.view import StatusView, build_view
from firstword.web.security import rate_limited

log = logging.getLogger("firstword.statuspage")

router = APIRouter(tags=["public status page"])
_view_lock = threading.Lock()
CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=60"


def current_view(request: Request) -> StatusView:
    """The status view as of the last published snapshot, built at most once per snapshot
    change (per app instance); with no snapshot yet, built for this request."""
    context: Context = request.app.state.context
    state = request.app.state
    with transaction(context.sessionmaker) as session:
        changed: datetime | None = snapshot.latest_change(session)
        cached: tuple[datetime, StatusView] | None = getattr(state, "statuspage_store_view", None)
        if changed is not None and cached is not None and cached[0] == changed:
            return cached[1]
        view = build_view(session, clock=context.clock, settings=context.settings)
    if changed is not None:
        with _view_lock:
            state.statuspage_store_view = (changed, view)
    return view


def _page(lang: str, status: int, context: Context, **values: Any) -> Response:
    html = render_store_page(lang=lang, settings=context.settings, **values)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Content-Language": lang,
            "Vary": "Accept-Language",
            "Cache-Control": CACHE_CONTROL if status == 200 else "no-store",
        },
    )


@router.get(
    "/stores",
    response_class=HTMLResponse,
    dependencies=[Depends(rate_limited("stores", "public_rate_limit_per_minute"))],
    summary="Is my store affected? (HTML)",
)
def store_lookup(
    request: Request,
    q: Annotated[str, Query(description="Store name, town or postcode.")] = "",
    lang: Annotated[str | None, Query(description="Page language (en, de).")] = None,
) -> Response:
    context: Context = request.app.state.context
    language = choose_language(lang, request.headers.get("accept-language"), PAGE_LANGUAGES)
    gettext = i18n.translations(language).gettext
    query = q.strip()
    if len(q) > MAX_QUERY:
        message = gettext("Please enter at most %(max)d characters.") % {"max": MAX_QUERY}
        return _page(language, 422, context, query=q[:MAX_QUERY], error=message, results=[])
    if not query:
        return _page(language, 200, context, query="", error="", results=[])
    try:
        stores = cached_stores(context.settings.data_dir)
    except InvalidInput:
        log.exception("the stores file cannot be read; store lookup is unavailable")
        message = gettext("Store search is unavailable right now. Please try again later.")
        return _page(language, 503, context, query=query, error=message, results=[])
    view = current_view(request)
    results = lookup(query, stores, view)
    unknown = unknown_components([r.store for r in results], (c.key for c in view.components))
    if unknown:  # such a store would look fine while a component it needs is down
        log.warning("stores.yaml names components the catalogue lacks: %s", unknown)
    return _page(language, 200, context, query=query, error="", results=results)

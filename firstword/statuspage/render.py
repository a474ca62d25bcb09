"""The public status page as HTML, its stylesheet, and the shop-front banner script.

Rendered once per change from a StatusView (snapshot.py stores the results; public.py and the
static export serve them as bytes), so nothing here runs per request except the small store
lookup page. The page has no script at all and one same-origin stylesheet (/status.css), so
it works without JavaScript and needs no Content-Security-Policy exception: PAGE_CSP is the
policy it is built for (also in a <meta> tag, for static hosting that sends no headers).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from firstword.core.settings import Settings
from firstword.incidents.vocabulary import STATUS_RANK
from firstword.statuspage import i18n
from firstword.statuspage.i18n import N_, PAGE_LANGUAGES
from firstword.statuspage.stores import Store, StoreStatus, store_status
from firstword.statuspage.view import IncidentView, Indicator, StatusView

__all__ = [
    "CSS_PATH",
    "PAGE_CSP",
    "PAGE_LANGUAGES",
    "brand_colors",
    "css_version",
    "language_href",
    "render_banner_js",
    "render_css",
    "render_page",
    "render_store_page",
    "render_template",
    "safe_logo_url",
]

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"

# Where the public site keeps its parts (public.py serves them, export writes them).
CSS_PATH = "/status.css"
ATOM_PATH = "/history.atom"
RSS_PATH = "/history.rss"
API_PATH = "/api/v2/summary.json"
STORES_PATH = "/stores"

# The policy the page is built for. `frame-ancestors` only works as a header; the <meta>
# copy in the page leaves it out (browsers ignore it there and warn).
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
META_CSP = "; ".join(p for p in PAGE_CSP.split("; ") if not p.startswith("frame-ancestors"))

DEFAULT_BRAND = "#1f5fbf"
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
DARK_INK = "#111827"
FALLBACK_LINK = "#1f5fbf"

# --- words for the vocabularies (translated where shown) --------------------------------

STATUS_LABELS = {
    "operational": N_("Operational"),
    "degraded_performance": N_("Degraded performance"),
    "partial_outage": N_("Partial outage"),
    "major_outage": N_("Major outage"),
    "under_maintenance": N_("Under maintenance"),
}
# The view's Statuspage descriptions (Title Case, for the JSON) as the page says them.
OVERALL_LABELS = {
    "All Systems Operational": N_("All systems operational"),
    "Major System Outage": N_("Major system outage"),
    "Partial System Outage": N_("Partial system outage"),
    "Minor Service Outage": N_("Minor service outage"),
    "Degraded System Service": N_("Degraded system service"),
    "Partially Degraded Service": N_("Partially degraded service"),
    "Service Under Maintenance": N_("Service under maintenance"),
}
IMPACT_LABELS = {
    "critical": N_("Critical impact"),
    "major": N_("Major impact"),
    "minor": N_("Minor impact"),
    "none": N_("Low impact"),
}
STATE_LABELS = {
    "investigating": N_("Investigating"),
    "identified": N_("Identified"),
    "monitoring": N_("Monitoring"),
    "resolved": N_("Resolved"),
    "postmortem": N_("Postmortem"),
}
MAINTENANCE_LABELS = {
    "scheduled": N_("Scheduled"),
    "in_progress": N_("In progress"),
    "verifying": N_("Verifying"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}
# Overall indicator -> the component status whose icon and colour stand for it.
INDICATOR_TONE = {
    "none": "operational",
    "minor": "degraded_performance",
    "major": "partial_outage",
    "critical": "major_outage",
}


# --- branding ---------------------------------------------------------------------------


def _rgb(color: str) -> tuple[int, int, int]:
    digits = color[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _luminance(color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two #rgb/#rrggbb colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def brand_colors(color: str | None) -> dict[str, str]:
    """The page's brand colours from the configured one: the header background, the text on
    it (white or near-black, whichever contrasts more) and the link colour (the brand colour
    when it reads on white at 4.5:1, else a dark blue). Only validated hex ever reaches the
    CSS; anything else falls back to the default."""
    brand = color if color and _HEX.match(color) else DEFAULT_BRAND
    brand = "#" + "".join(f"{v:02x}" for v in _rgb(brand))
    ink = "#ffffff" if contrast(brand, "#ffffff") >= contrast(brand, DARK_INK) else DARK_INK
    link = brand if contrast(brand, "#ffffff") >= 4.5 else FALLBACK_LINK
    return {"brand": brand, "brand-ink": ink, "link": link}


def safe_logo_url(url: str | None) -> str | None:
    """The logo URL if it is a path on this site or a data: image, else None (a third-party
    logo would fail exactly when the retailer's other systems are down, and leak readers).
    Backslashes are refused: browsers read "/\\host" as another host."""
    if not url or any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url
    if url.startswith("data:image/"):
        return url
    return None


@cache
def _css_source() -> str:
    return (STATIC_DIR / "status.css").read_text(encoding="utf-8")


def render_css(settings: Settings) -> str:
    """/status.css with the brand colours filled in."""
    colors = brand_colors(settings.brand_primary_color)
    overrides = " ".join(f"--{name}: {value};" for name, value in colors.items())
    return _css_source().replace("/*BRAND*/", overrides, 1)


def css_version(settings: Settings) -> str:
    return hashlib.sha256(render_css(settings).encode()).hexdigest()[:12]


# --- templates --------------------------------------------------------------------------


def language_href(lang: str) -> str:
    """The address of the page in `lang` (public.py serves /?lang=xx from the snapshot)."""
    return f"/?lang={lang}"


def _translate_data(gettext: Callable[[str], str]) -> Callable[[str], str]:
    """Translate a configured name if the catalogue knows it (the shipped components), else
    show it as written. Empty text stays empty (gettext("") is the catalogue header)."""

    def tr(text: str) -> str:
        return gettext(text) if text else text

    return tr


@cache
def environment(lang: str) -> Environment:
    """One Jinja environment per language (gettext is installed into the environment)."""
    translations = i18n.translations(lang)
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    gettext = translations.gettext
    env.globals.update(
        lang=lang,
        languages=[(code, i18n.language_name(code)) for code in PAGE_LANGUAGES],
        language_href=language_href,
        css_path=CSS_PATH,
        atom_path=ATOM_PATH,
        rss_path=RSS_PATH,
        api_path=API_PATH,
        stores_path=STORES_PATH,
        meta_csp=META_CSP,
        indicator_tone=INDICATOR_TONE,
    )
    env.filters.update(
        when=lambda value: i18n.format_when(value, lang),
        day=lambda value: i18n.format_day(value, lang),
        uptime=lambda value: i18n.format_uptime(value, lang),
        tr=_translate_data(gettext),
        worst_first=lambda items: sorted(items, key=lambda c: -STATUS_RANK[c.status]),
        status_label=_labeller(STATUS_LABELS, gettext),
        overall_label=_labeller(OVERALL_LABELS, gettext),
        impact_label=_labeller(IMPACT_LABELS, gettext),
        state_label=_labeller(STATE_LABELS, gettext),
        maintenance_label=_labeller(MAINTENANCE_LABELS, gettext),
    )
    return env


def _labeller(labels: Mapping[str, str], gettext: Callable[[str], str]) -> Callable[[Any], str]:
    def label(value: Any) -> str:
        key = str(value)
        return gettext(labels[key]) if key in labels else key.replace("_", " ").capitalize()

    return label


def render_template(name: str, *, lang: str, settings: Settings, **context: Any) -> str:
    """Render one of the status page's templates in `lang` with the common variables."""
    if lang not in PAGE_LANGUAGES:
        raise ValueError(f"unknown page language {lang!r}")
    colors = brand_colors(settings.brand_primary_color)
    base = {
        "brand_name": settings.retailer_name,
        "logo_url": safe_logo_url(settings.brand_logo_url),
        "brand_color": colors["brand"],
        "css_href": f"{CSS_PATH}?v={css_version(settings)}",
        "favicon": _favicon(colors["brand"]),
        "base_url": settings.public_base_url.rstrip("/"),
    }
    return environment(lang).get_template(name).render({**base, **context})


def _favicon(color: str) -> str:
    """A data: SVG favicon in the brand colour (browsers otherwise ask for /favicon.ico)."""
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>"
        f"<circle cx='8' cy='8' r='7' fill='{color}'/></svg>"
    )
    return "data:image/svg+xml," + svg.replace("#", "%23").replace("<", "%3C").replace(">", "%3E")


def _next_update_text(incident: IncidentView, reference: datetime, lang: str) -> str:
    """When the next update is due: the time alone ("19:30 UTC") on the day of `reference`,
    else the date and time."""
    due = incident.next_update_due
    if due is None:
        return ""
    same_day = due.date() == reference.date()
    return i18n.format_clock(due, lang) if same_day else i18n.format_when(due, lang)


def render_page(view: StatusView, *, lang: str, settings: Settings) -> str:
    """The whole public page in `lang` (one of PAGE_LANGUAGES)."""
    tone = (
        "maintenance"
        if view.status.indicator is Indicator.NONE
        and view.status.description == "Service Under Maintenance"
        else view.status.indicator.value
    )
    next_updates = {i.ref: _next_update_text(i, view.page.updated_at, lang) for i in view.incidents}
    return render_template(
        "statuspage/page.html",
        lang=lang,
        settings=settings,
        view=view,
        tone=tone,
        next_updates=next_updates,
        statuses=list(STATUS_LABELS),
    )


def render_store_page(
    *,
    lang: str,
    settings: Settings,
    query: str = "",
    results: Sequence[StoreStatus] = (),
    error: str = "",
) -> str:
    """The "Is my store affected?" page: the search form, then the matching stores with
    their status (stores.lookup), or `error` about the query."""
    lang_links = {
        code: f"{STORES_PATH}?{urlencode({'lang': code, 'q': query} if query else {'lang': code})}"
        for code in PAGE_LANGUAGES
    }
    return render_template(
        "statuspage/stores.html",
        lang=lang,
        settings=settings,
        countries=dict(i18n.locale_of(lang).territories),
        lang_links=lang_links,
        query=query,
        results=list(results),
        error=error,
    )


def render_store_directory(
    view: StatusView, *, lang: str, settings: Settings, stores: Sequence[Store]
) -> str:
    """Every store with its status, affected first: the static export's /stores, where no
    search can run (the app's /stores searches instead)."""
    results = sorted(
        (store_status(store, view) for store in stores),
        key=lambda r: (-STATUS_RANK[r.status], r.store.country, r.store.town, r.store.name),
    )
    return render_template(
        "statuspage/stores.html",
        lang=lang,
        settings=settings,
        countries=dict(i18n.locale_of(lang).territories),
        lang_links={code: f"{STORES_PATH}?lang={code}" for code in PAGE_LANGUAGES},
        query="",
        results=results,
        error="",
        directory=True,
    )


def render_subscribe_elsewhere(*, lang: str, settings: Settings) -> str:
    """The static export's /subscribe: subscribing needs the app, so this page points to it
    (at the configured public address) and to the feeds, which work from the export."""
    base = settings.public_base_url.rstrip("/")
    return render_template(
        "statuspage/subscribe_elsewhere.html",
        lang=lang,
        settings=settings,
        subscribe_url=f"{base}/subscribe?{urlencode({'lang': lang})}",
    )


# --- banner -----------------------------------------------------------------------------


@cache
def _banner_source() -> str:
    """static/banner.js without its comment lines and indentation (the source is written
    compactly by hand for this: no line of code starts with "*" or "//")."""
    lines = []
    for raw in (STATIC_DIR / "banner.js").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith(("//", "/*", "*")):
            lines.append(line)
    return "\n".join(lines) + "\n"


def banner_labels() -> dict[str, dict[str, str]]:
    """The banner's few words in every page language (it picks the host page's language)."""
    labels: dict[str, dict[str, str]] = {}
    for lang in PAGE_LANGUAGES:
        gettext = i18n.translations(lang).gettext
        labels[lang] = {
            "more": gettext("Status page"),
            "close": gettext("Dismiss"),
        }
    return labels


def render_banner_js(settings: Settings) -> str:
    """/banner.js: fetches banner.json next to itself and shows a bar when something is wrong
    (under 2 KB). Labels go in as JSON (<, > and & escaped, so no text can end the script).
    `settings` is part of the renderer contract; the bar's colours follow the status, not
    the brand, so nothing in it is configurable yet."""
    config = {"labels": banner_labels(), "fallback": i18n.DEFAULT_LANGUAGE}
    encoded = json.dumps(config, ensure_ascii=True, separators=(",", ":"))
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _banner_source().replace("__CONFIG__", encoded, 1)

"""Printable in-store signage (an A4 PDF for the shop door and the till point) and a short
text for tills and receipts, generated from an incident's latest published update, in a
store's language.

Everything on a sign comes from the public record: the update's time, state and component
statuses, the incident's customer advice ("what you can do") and the update's text as
published. The sign's own words (headline, "what you can do", "still working", the status
of each service) are in the store's language: English for GB and US stores, German for
German ones, or as asked. A published update is never changed here; a new sign needs a new
update.

The till text fits a receipt printer: at most 4 lines of at most 40 characters (UTF-8; a
printer without umlauts needs its own code page).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from jinja2 import Environment, FileSystemLoader, select_autoescape

from firstword.core.errors import Conflict, FirstwordError, InvalidInput, NotFound
from firstword.core.settings import Settings
from firstword.incidents.schemas import ComponentRead, IncidentRead, UpdateRead
from firstword.incidents.vocabulary import STATUS_RANK, ComponentStatus, IncidentState
from firstword.statuspage import i18n
from firstword.statuspage.compose import in_words

TEMPLATES = Path(__file__).resolve().parent / "templates"
TILL_WIDTH = 40
TILL_LINES = 4
MAX_BODY_ON_SIGN = 700  # characters of the update's text; the rest is on the status page
MAX_ADVICE_ON_SIGN = 400
SIGN_SCALES = (1.0, 0.85, 0.7, 0.55)  # type sizes tried until the sign fits one page

# The language of a store's signs, by country (anything else: English).
COUNTRY_LANGUAGE = {"GB": "en", "US": "en", "DE": "de", "AT": "de", "CH": "de"}
COUNTRY_ZONE = {"GB": "Europe/London", "DE": "Europe/Berlin", "AT": "Europe/Vienna"}
# US stores give their state as the region; times on their signs are local.
_US_ZONES = {
    "America/New_York": "CT DC DE FL GA IN KY MA MD ME MI NC NH NJ NY OH PA RI SC VA VT WV",
    "America/Chicago": "AL AR IA IL KS LA MN MO MS ND NE OK SD TN TX WI",
    "America/Denver": "CO ID MT NM UT WY",
    "America/Phoenix": "AZ",
    "America/Los_Angeles": "CA NV OR WA",
    "America/Anchorage": "AK",
    "Pacific/Honolulu": "HI",
}
US_STATE_ZONE = {state: zone for zone, states in _US_ZONES.items() for state in states.split()}

# The sign's own words. Statuses are short, for a poster read from across a shop.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "notice": "Service notice",
        "several": "Some of our services are disrupted",
        "resolved": "Everything is working normally again",
        "what_you_can_do": "What you can do",
        "still_working": "Still working",
        "latest": "Latest update",
        "updated": "Updated {when}",
        "more": "Latest news: {url}",
        "more_short": "Info: {url}",
        "sorry": "We're sorry for the inconvenience.",
        "thanks": "Thank you for your patience.",
        ComponentStatus.MAJOR_OUTAGE: "not working",
        ComponentStatus.PARTIAL_OUTAGE: "partly not working",
        ComponentStatus.DEGRADED_PERFORMANCE: "slower than usual",
        ComponentStatus.UNDER_MAINTENANCE: "under maintenance",
        ComponentStatus.OPERATIONAL: "working",
    },
    "de": {
        "notice": "Kundeninformation",
        "several": "Einige unserer Dienste sind gestört",
        "resolved": "Alles funktioniert wieder normal",
        "what_you_can_do": "Was Sie tun können",
        "still_working": "Funktioniert weiterhin",
        "latest": "Aktueller Stand",
        "updated": "Stand: {when}",
        "more": "Aktuelle Infos: {url}",
        "more_short": "Infos: {url}",
        "sorry": "Bitte entschuldigen Sie die Unannehmlichkeiten.",
        "thanks": "Vielen Dank für Ihre Geduld.",
        ComponentStatus.MAJOR_OUTAGE: "derzeit nicht verfügbar",
        ComponentStatus.PARTIAL_OUTAGE: "teilweise gestört",
        ComponentStatus.DEGRADED_PERFORMANCE: "langsamer als gewohnt",
        ComponentStatus.UNDER_MAINTENANCE: "in Wartung",
        ComponentStatus.OPERATIONAL: "funktioniert",
    },
}


@dataclass(frozen=True)
class StoreRef:
    """The store a sign is for (from the stores file: statuspage/stores.py)."""

    id: str
    name: str
    country: str
    region: str
    components: tuple[str, ...]


@dataclass(frozen=True)
class Notice:
    """What a sign and a till text say, already in `lang`."""

    ref: str
    lang: str
    brand: str
    headline: str
    affected: list[tuple[str, str]]  # (component name, status in words)
    advice: str  # the incident's customer advice, as written
    working: list[str]  # names of related services that still work
    body: str  # the update's text as published (shortened for a poster)
    resolved: bool
    updated: str  # when the update was published, in the store's time zone
    status_url: str
    store: str | None = None
    words: dict[str, str] = field(default_factory=dict)

    @property
    def short_url(self) -> str:
        """The status page address without its scheme, for print."""
        return _short_url(self.status_url)


def language_for(lang: str | None, store: StoreRef | None) -> str:
    chosen = lang or (COUNTRY_LANGUAGE.get(store.country, "en") if store else "en")
    if chosen not in WORDS or chosen not in i18n.LANGUAGES:
        known = ", ".join(sorted(set(WORDS) & set(i18n.LANGUAGES)))
        raise InvalidInput("lang", f"unknown language {chosen!r}; known: {known}")
    return chosen


def zone_for(store: StoreRef | None) -> ZoneInfo:
    if store is None:
        return ZoneInfo("UTC")
    name = COUNTRY_ZONE.get(store.country)
    if store.country == "US":
        name = US_STATE_ZONE.get(store.region.strip().upper())
    return ZoneInfo(name or "UTC")


def local_time(moment: datetime, lang: str, zone: ZoneInfo) -> str:
    """ "20 Nov 2026, 09:15 GMT" / "20.11.2026, 10:15 MEZ" (UTC written as UTC)."""
    locale = i18n.locale_of(lang)
    local = moment.astimezone(zone)
    day = format_date(local.date(), "medium", locale=locale)
    clock = format_time(moment, "short", tzinfo=zone, locale=locale)
    label = "UTC" if zone.key == "UTC" else format_time(moment, "zzz", tzinfo=zone, locale=locale)
    return f"{day}, {clock} {label}"


def latest_update(incident: IncidentRead) -> UpdateRead:
    if not incident.updates:
        raise Conflict(
            f"{incident.ref} has no published update yet: signs and till texts are made from "
            "the latest public update, so publish one first"
        )
    return max(incident.updates, key=lambda u: (u.posted_at, u.id))


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    sentence_end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("\n"))
    if sentence_end > limit // 2:
        return cut[: sentence_end + 1].rstrip() + " …"
    return cut.rsplit(" ", 1)[0].rstrip(",;:") + " …"


def build_notice(
    incident: IncidentRead,
    *,
    catalogue: Sequence[ComponentRead],
    settings: Settings,
    lang: str | None = None,
    store: StoreRef | None = None,
) -> Notice:
    """The sign's content from the incident's latest published update."""
    lang = language_for(lang, store)
    words = WORDS[lang]
    update = latest_update(incident)
    gettext = i18n.translations(lang).gettext
    by_key = {c.key: c for c in catalogue}
    names = {c.key: c.name for c in incident.components} | {c.key: c.name for c in catalogue}

    def name(key: str) -> str:
        return gettext(names.get(key, key))

    statuses = {
        key: ComponentStatus(value)
        for key, value in update.component_statuses.items()
        if value in {s.value for s in ComponentStatus}
    }
    resolved = update.state in (IncidentState.RESOLVED, IncidentState.POSTMORTEM)
    broken = sorted(
        (k for k, s in statuses.items() if s is not ComponentStatus.OPERATIONAL),
        key=lambda k: (-STATUS_RANK[statuses[k]], k),
    )
    affected = [(name(k), words[statuses[k]]) for k in broken]
    if resolved or not broken:
        headline = words["resolved"] if resolved else words["notice"]
    elif len({statuses[k] for k in broken}) == 1 and len(broken) <= 2:
        headline = f"{in_words([name(k) for k in broken], lang)}: {words[statuses[broken[0]]]}"
    else:
        headline = words["several"]

    groups = {by_key[k].group for k in broken if k in by_key}
    candidates = store.components if store is not None else tuple(by_key)
    working = [
        name(k)
        for k in candidates
        if k in by_key
        and k not in statuses
        and by_key[k].group in groups
        and by_key[k].status is ComponentStatus.OPERATIONAL
    ] + [name(k) for k in candidates if statuses.get(k) is ComponentStatus.OPERATIONAL]
    base = settings.public_base_url.rstrip("/")
    return Notice(
        ref=incident.ref,
        lang=lang,
        brand=settings.retailer_name,
        headline=headline,
        affected=affected if not resolved else [],
        advice="" if resolved else _shorten(incident.customer_advice, MAX_ADVICE_ON_SIGN),
        working=[] if resolved else list(dict.fromkeys(working)),
        body=_shorten(update.body, MAX_BODY_ON_SIGN),
        resolved=resolved,
        updated=local_time(update.posted_at, lang, zone_for(store)),
        status_url=base + "/",
        store=store.name if store else None,
        words=dict(words),
    )


# --- the till / receipt text ----------------------------------------------------------------


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False) or []


def _short_url(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    for end in (". ", "! ", "? "):
        if end in flat:
            flat = flat.split(end, 1)[0] + end.strip()
            break
    return flat


def till_text(notice: Notice, *, width: int = TILL_WIDTH, max_lines: int = TILL_LINES) -> str:
    """At most `max_lines` lines of at most `width` characters: what is wrong, what to do
    (the customer advice, else what still works), where to read more."""
    words = notice.words
    url = _short_url(notice.status_url)
    url_line = words["more_short"].format(url=url)
    if len(url_line) > width:
        url_line = url[:width]
    if notice.resolved:
        what = [words["resolved"] + ".", words["thanks"]]
    else:
        if len(notice.affected) == 1:
            first = f"{notice.affected[0][0]}: {notice.affected[0][1]}."
        elif notice.affected:
            first = notice.headline + "."
        else:  # no service is down (a breach, say): the update itself says what happened
            first = _first_sentence(notice.body) or notice.headline + "."
        then = notice.advice or (
            f"{words['still_working']}: {in_words(notice.working, notice.lang)}."
            if notice.working
            else words["sorry"]
        )
        what = [first, then]
    room = max_lines - 1
    lines: list[str] = []
    for part in what:
        for line in _wrap(part, width):
            lines.append(line)
    if len(lines) > room:
        lines = lines[:room]
        words_left = lines[-1].split(" ")
        while len(words_left) > 1 and len(" ".join(words_left)) > width - 3:
            words_left.pop()  # end on a whole word
        last = " ".join(words_left)[: width - 3].rstrip(" ,;:.")
        lines[-1] = last + "..."
    return "\n".join([*lines, url_line]) + "\n"


# --- the poster -----------------------------------------------------------------------------


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def sign_html(notice: Notice, *, logo: str | None = None) -> str:
    """The poster as HTML (styled by `sign_css`). Only a data: logo is embedded: the sign
    must print without fetching anything."""
    safe_logo = logo if logo and logo.startswith("data:image/") else None
    template = _environment().get_template("statuspage/signage.html")
    return template.render(n=notice, w=notice.words, logo=safe_logo)


def sign_css(notice: Notice, *, brand_color: str = "#1f5fbf", scale: float = 1.0) -> str:
    """The poster's styles: A4 portrait, large type, black on white; `scale` shrinks the
    type of everything but the brand band and the footer."""
    template = _environment().get_template("statuspage/signage.css")
    long_headline = len(notice.headline) > 60
    return template.render(brand_color=brand_color, scale=scale, long_headline=long_headline)


PDF_LIBRARIES_HINT = (
    "printing signs needs WeasyPrint's system libraries: "
    "apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"
)


class PdfUnavailable(FirstwordError):
    """WeasyPrint cannot load here (its Pango libraries are missing)."""

    status_code = 503


def load_weasyprint() -> Any:
    """WeasyPrint, imported on first use: it loads Pango, which only signage needs."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise PdfUnavailable(f"{PDF_LIBRARIES_HINT} ({type(exc).__name__}: {exc})") from None
    return weasyprint


def sign_pdf(notice: Notice, *, brand_color: str = "#1f5fbf", logo: str | None = None) -> bytes:
    """The poster as a one-page A4 PDF (WeasyPrint; needs the system's Pango libraries).
    Long texts are set smaller until everything fits on the page."""
    weasyprint = load_weasyprint()

    fetcher = weasyprint.URLFetcher(allowed_protocols=("data",))  # nothing from the network
    html = weasyprint.HTML(string=sign_html(notice, logo=logo), url_fetcher=fetcher)
    document = None
    for scale in SIGN_SCALES:
        css = weasyprint.CSS(
            string=sign_css(notice, brand_color=brand_color, scale=scale), url_fetcher=fetcher
        )
        document = html.render(stylesheets=[css])
        if len(document.pages) == 1:
            break
    assert document is not None
    if len(document.pages) > 1:  # still too long at the smallest type: keep the first page
        document = document.copy(document.pages[:1])
    pdf = document.write_pdf()
    if not isinstance(pdf, bytes):  # write_pdf() without a target returns the bytes
        raise TypeError("WeasyPrint returned no PDF")
    return pdf


def load_store(data_dir: Path, store_id: str) -> StoreRef:
    """A store of the stores file (statuspage/stores.py: DATA_DIR/stores.yaml, else the
    shipped examples) by id."""
    import importlib

    try:
        stores = importlib.import_module("firstword.statuspage.stores")
    except ImportError:  # the store lookup is not installed: signs need a language instead
        raise InvalidInput("store", "stores are not set up; give a language instead") from None
    for store in stores.cached_stores(data_dir):
        if store.id == store_id:
            return StoreRef(
                id=store.id,
                name=store.name,
                country=store.country,
                region=store.region,
                components=tuple(store.components),
            )
    raise NotFound(f"no store {store_id!r} in the stores file")

"""Languages of the public pages: gettext catalogues (Babel) and dates, times and percentages
in the reader's locale. (Which language a reader gets: public.choose_language.)

UI strings go through gettext; what staff wrote (incident titles, updates, advice) is shown as
written. The shipped component catalogue's names, groups and descriptions are in the
catalogues too (SHIPPED_CATALOGUE_TEXT), so a German reader sees "Kontaktloses Bezahlen in der
Filiale"; a name a retailer changed in its own components.yaml has no translation and is shown
as written.

Adding a language: add it to LANGUAGES below (with the Babel locale used for dates and
numbers and its own name), then
    pybabel init -D messages -i firstword/statuspage/translations/messages.pot \
        -d firstword/statuspage/translations -l <lang>
translate the .po file and compile it (see translations/README.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_percent
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"

# language code (as in ?lang= and hreflang) -> (Babel locale for dates/numbers, own name).
# English dates are written the British way ("24 Nov 2026, 18:52 UTC"): unambiguous to
# readers in the UK, Germany and the US alike, unlike 11/24/2026.
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("en_GB", "English"),
    "de": ("de_DE", "Deutsch"),
}
PAGE_LANGUAGES: tuple[str, ...] = tuple(LANGUAGES)


def N_(message: str) -> str:
    """Mark a string for extraction into the catalogue; it is translated where it is shown."""
    return message


# The shipped component catalogue (incidents/components.yaml): names, groups, descriptions.
# tests/statuspage/test_i18n.py checks that this list matches that file.
SHIPPED_CATALOGUE_TEXT = (
    N_("Online"),
    N_("Payments"),
    N_("Fulfilment"),
    N_("Stores"),
    N_("Customer service"),
    N_("Loyalty"),
    N_("Website"),
    N_("Browsing the website, product pages, search and store finder."),
    N_("Mobile app"),
    N_("The iOS and Android shopping app."),
    N_("Online ordering and checkout"),
    N_("Adding to basket, checkout and order confirmation on the website and app."),
    N_("Account sign-in"),
    N_("Signing in, creating an account and resetting a password."),
    N_("Contactless payments in store"),
    N_("Tap-to-pay with cards, phones and watches at tills and self-checkouts."),
    N_("Chip and PIN card payments in store"),
    N_("Inserted card payments at tills and self-checkouts."),
    N_("Online card payments"),
    N_(
        "Card, Apple Pay, Google Pay and PayPal payments at online checkout, including "
        "3-D Secure authentication."
    ),
    N_("Gift cards and e-vouchers"),
    N_("Buying, redeeming and checking the balance of gift cards and e-vouchers."),
    N_("Click and collect"),
    N_("Ordering online and collecting in store, including collection notifications."),
    N_("Home delivery"),
    N_("Delivery slots, dispatch, tracking and delivery of online orders."),
    N_("Stores in the UK"),
    N_("Trading, tills and opening hours of our stores in the United Kingdom."),
    N_("Stores in Germany"),
    N_("Trading, tills and opening hours of our stores in Germany (Filialen)."),
    N_("Stores in the US"),
    N_("Trading, registers and opening hours of our stores in the United States."),
    N_("Customer service phone lines"),
    N_("Our customer service telephone numbers in the UK, Germany and the US."),
    N_("Live chat"),
    N_("Chat with customer service on the website and in the app."),
    N_("E-mail support"),
    N_("Contacting customer service by e-mail or the web contact form."),
    N_("Loyalty programme"),
    N_("Collecting and spending points, the loyalty card and app, member offers."),
)


def _language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown page language {lang!r}; known: {', '.join(LANGUAGES)}")
    return lang


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue for `lang` (English is the source language: identity)."""
    if _language(lang) == DEFAULT_LANGUAGE:
        return NullTranslations()
    loaded = Translations.load(str(TRANSLATIONS_DIR), [lang], DOMAIN)
    if not isinstance(loaded, Translations):  # no .mo file: a packaging error, not a fallback
        raise FileNotFoundError(f"no compiled catalogue for {lang!r} in {TRANSLATIONS_DIR}")
    return loaded


def locale_of(lang: str) -> Locale:
    return Locale.parse(LANGUAGES[_language(lang)][0])


def language_name(lang: str) -> str:
    return LANGUAGES[_language(lang)][1]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: firstword keeps every time in UTC with a zone")
    return value.astimezone(UTC)


def format_when(value: datetime, lang: str) -> str:
    """ "24 Nov 2026, 18:52 UTC" / "24.11.2026, 18:52 UTC": the zone is always written out."""
    moment = _utc(value)
    locale = locale_of(lang)
    day = format_date(moment.date(), "medium", locale=locale)
    clock = format_time(moment, "short", tzinfo=UTC, locale=locale)
    return f"{day}, {clock} UTC"


def format_clock(value: datetime, lang: str) -> str:
    """ "18:52 UTC": for "next update by" on the same day."""
    return f"{format_time(_utc(value), 'short', tzinfo=UTC, locale=locale_of(lang))} UTC"


def format_day(value: date, lang: str) -> str:
    """ "24 Nov 2026" / "24.11.2026"."""
    return format_date(value, "medium", locale=locale_of(lang))


def format_uptime(percent: float, lang: str) -> str:
    """99.954 -> "99.95%" / "99,95 %". Rounded down: a page must never overstate uptime."""
    locale = locale_of(lang)
    pattern = locale.percent_formats[None].pattern.replace("#,##0", "#,##0.00", 1)
    bounded = Decimal(repr(max(0.0, min(100.0, float(percent)))))
    floored = bounded.quantize(Decimal("0.01"), rounding=ROUND_DOWN) / 100
    return format_percent(floored, format=pattern, locale=locale, decimal_quantization=True)

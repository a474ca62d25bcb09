"""Languages: German and English pages, dates in the reader's locale, language choice over
HTTP, and catalogues that are complete and compiled."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from firstword.statuspage import i18n, render
from firstword.statuspage import service as statuspage
from tests.statuspage.page_support import ADVICE, page_html, parse, payment_incident

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "firstword" / "statuspage" / "translations"
COMPONENTS_YAML = ROOT / "firstword" / "incidents" / "components.yaml"
GERMAN_WHEN = r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} UTC"
ENGLISH_WHEN = r"\d{1,2} [A-Z][a-z]{2,3} \d{4}, \d{2}:\d{2} UTC"


def test_german_page_has_german_words_and_dates(session, clock, settings):
    incident = payment_incident(session, clock)
    html = page_html(session, clock, settings, lang="de")
    doc = parse(html)

    assert '<html lang="de">' in html
    for words in (
        "Aktuelle Störungen",
        "Was Sie tun können",
        "Ursache gefunden",
        "Kritische Auswirkungen",
        "Ist meine Filiale betroffen?",
        "Frühere Störungen",
        "Zum Hauptinhalt springen",
        "Aktueller Status nach Dienst",
    ):
        assert words in html, words
    assert "Schwerwiegender Ausfall" in doc.find_all("h1")[0].all_text()
    # the shipped catalogue is translated; what staff wrote is shown as written
    assert "Kartenzahlung mit PIN in der Filiale" in html
    assert "Chip and PIN card payments in store" not in html
    assert incident.title in html and ADVICE in html
    assert re.search(r"Zuletzt aktualisiert: <time datetime=\"[^\"]+\">" + GERMAN_WHEN, html)
    assert re.search(r"Seit <time datetime=\"[^\"]+\">" + GERMAN_WHEN, html)
    assert not re.search(ENGLISH_WHEN, html)
    assert re.search(r"\d{2}\.\d{2}\.\d{4}: Ausfall", html)  # an uptime day
    assert re.search(r"\d{2},\d{2}\u00a0% verfügbar", html)  # Babel: no-break space


def test_english_page_dates(session, clock, settings):
    payment_incident(session, clock)
    html = page_html(session, clock, settings, lang="en")
    assert '<html lang="en">' in html
    assert re.search(r"Last updated <time datetime=\"[^\"]+\">" + ENGLISH_WHEN, html)
    assert not re.search(GERMAN_WHEN, html)
    assert "Störung" not in html


def test_each_page_links_to_every_language(session, clock, settings):
    base = settings.public_base_url.rstrip("/")
    for lang in render.PAGE_LANGUAGES:
        html = page_html(session, clock, settings, lang=lang)
        for other in render.PAGE_LANGUAGES:
            assert f'<link rel="alternate" hreflang="{other}" href="{base}/?lang={other}">' in html
            assert f'href="/?lang={other}" hreflang="{other}" lang="{other}"' in html
        assert f'href="/?lang={lang}" hreflang="{lang}" lang="{lang}" aria-current="true"' in html
        assert 'hreflang="x-default"' in html


def test_formats():
    moment = datetime(2026, 11, 24, 18, 52, tzinfo=UTC)
    assert i18n.format_when(moment, "en") == "24 Nov 2026, 18:52 UTC"
    assert i18n.format_when(moment, "de") == "24.11.2026, 18:52 UTC"
    assert i18n.format_clock(moment, "de") == "18:52 UTC"
    assert i18n.format_day(date(2026, 9, 3), "de") == "03.09.2026"
    assert i18n.format_uptime(99.95, "en") == "99.95%"
    assert i18n.format_uptime(99.95, "de") == "99,95\u00a0%"
    assert i18n.format_uptime(99.999, "en") == "99.99%"  # never rounded up to 100
    assert i18n.format_uptime(100, "en") == "100.00%"
    with pytest.raises(ValueError, match="naive"):
        i18n.format_when(datetime(2026, 1, 1), "en")
    with pytest.raises(ValueError, match="unknown page language"):
        i18n.format_when(moment, "xx")


# --- over HTTP: ?lang= first, then Accept-Language, else English ---------------------------


@pytest.fixture
def rendered_client(client, context):
    with context.sessionmaker() as session, session.begin():
        payment_incident(session, context.clock)
        assert statuspage.rebuild(session, clock=context.clock, settings=context.settings).ok
    return client


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        ("", "de-DE,de;q=0.9,en;q=0.8", "de"),
        ("", "fr-FR, de;q=0.5", "de"),
        ("", "fr-FR", "en"),
        ("", "", "en"),
        ("?lang=xx", "", "en"),
        ("?lang=xx", "de-AT", "de"),
        ("?lang=de", "en-GB", "de"),
        ("?lang=en", "de-DE", "en"),
    ],
)
def test_language_is_chosen_by_query_then_accept_language(rendered_client, query, accept, expected):
    headers = {"Accept-Language": accept} if accept else {}
    response = rendered_client.get("/" + query, headers=headers)
    assert response.status_code == 200
    assert f'<html lang="{expected}">' in response.text
    assert response.headers["content-language"] == expected
    assert "Accept-Language" in response.headers["vary"]
    german = "Aktuelle Störungen" in response.text
    assert german == (expected == "de")


def test_served_page_sends_the_page_csp(rendered_client):
    response = rendered_client.get("/")
    assert response.headers["content-security-policy"] == render.PAGE_CSP
    css = rendered_client.get("/status.css")
    assert css.status_code == 200
    assert css.text == render.render_css(rendered_client.app.state.context.settings)


# --- catalogues ----------------------------------------------------------------------------


def _po(lang: str):  # type: ignore[no-untyped-def]
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _ids(catalog) -> set[object]:  # type: ignore[no-untyped-def]
    return {m.id for m in catalog if m.id}


def test_template_is_up_to_date_with_the_code(tmp_path, monkeypatch):
    """messages.pot holds exactly the strings the code and templates use (re-extract)."""
    fresh = tmp_path / "messages.pot"
    monkeypatch.chdir(ROOT)
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(TRANSLATIONS / "babel.cfg"),
            "-k",
            "N_",
            "--no-location",
            "--omit-header",
            "-o",
            str(fresh),
            ".",
        ]
    )
    with fresh.open("rb") as f:
        extracted = read_po(f)
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        committed = read_po(f)
    assert _ids(extracted) == _ids(committed), (
        "run the `pybabel extract` and `update` commands in translations/README.md"
    )


@pytest.mark.parametrize("lang", [lang for lang in i18n.PAGE_LANGUAGES if lang != "en"])
def test_every_message_is_translated(lang):
    with (TRANSLATIONS / "messages.pot").open("rb") as f:
        template = read_po(f)
    catalog = _po(lang)
    assert _ids(catalog) == _ids(template)
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {message.id!r}"
        wanted = set(placeholder.findall(ids[-1]))
        for text in strings:
            assert set(placeholder.findall(text)) == wanted, message.id


@pytest.mark.parametrize("lang", [lang for lang in i18n.PAGE_LANGUAGES if lang != "en"])
def test_compiled_catalogue_matches_its_source(lang):
    """The committed .mo is what `pybabel compile` makes of the committed .po."""
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        compiled = read_mo(f)
    source = _po(lang)
    expected = {_key(m.id): _key(m.string) for m in source if m.id and not m.fuzzy}
    actual = {_key(m.id): _key(m.string) for m in compiled if m.id}
    assert len(actual) > 100
    assert actual == expected, "run `pybabel compile` (translations/README.md)"


def test_shipped_component_catalogue_is_in_the_catalogues():
    shipped = yaml.safe_load(COMPONENTS_YAML.read_text(encoding="utf-8"))["components"]
    texts = set()
    for entry in shipped:
        texts |= {entry["name"], entry["group"], " ".join(entry["description"].split())}
    assert texts == set(i18n.SHIPPED_CATALOGUE_TEXT)
    german = i18n.translations("de")
    for text in texts:
        assert german.gettext(text) != text or text in {"Online", "Website"}, text


def test_renamed_components_are_shown_as_written():
    tr = render.environment("de").filters["tr"]
    assert tr("Stores in Germany") == "Filialen in Deutschland"
    assert tr("Our Oxford Street flagship") == "Our Oxford Street flagship"
    assert tr("") == ""  # not the catalogue header

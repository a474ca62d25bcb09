"""\"Is my store affected?\": the stores file, the search and the /stores page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firstword.core.errors import InvalidInput
from firstword.incidents.vocabulary import ComponentStatus
from firstword.statuspage import stores
from tests.factories import ensure_catalogue, make_incident
from tests.statuspage.page_support import HOSTILE, parse, payment_incident, view_of

SHIPPED = stores.load_stores()


def ids(found: list[stores.Store]) -> list[str]:
    return [s.id for s in found]


def test_shipped_example_stores():
    assert len(SHIPPED) >= 20
    assert {s.country for s in SHIPPED} == {"GB", "DE", "US"}
    assert len({s.id for s in SHIPPED}) == len(SHIPPED)


def test_shipped_stores_name_only_catalogue_components(session, clock):
    known = [c.key for c in ensure_catalogue(session, clock)]
    assert stores.unknown_components(SHIPPED, known) == {}
    assert stores.unknown_components(SHIPPED[:1], ["stores-uk"]) == {
        SHIPPED[0].id: [k for k in SHIPPED[0].components if k != "stores-uk"]
    }


@pytest.mark.parametrize(
    ("query", "expected_first"),
    [
        ("Manchester", "GB-MAN-001"),
        ("manchester arndale", "GB-MAN-001"),
        ("arndale", "GB-MAN-001"),
        ("MÜNCHEN", "DE-MUC-001"),
        ("munchen", "DE-MUC-001"),
        ("muenchen", "DE-MUC-001"),
        ("Koeln", "DE-CGN-001"),
        ("köln", "DE-CGN-001"),
        ("Monckebergstrasse", "DE-HAM-001"),
        ("M4", "GB-MAN-001"),
        ("m4 3aq", "GB-MAN-001"),
        ("M43AQ", "GB-MAN-001"),
        ("8033", "DE-MUC-001"),
        ("02108", "US-BOS-001"),
        ("  edinburgh  ", "GB-EDI-001"),
    ],
)
def test_search_by_name_town_or_postcode(query, expected_first):
    found = stores.search(SHIPPED, query)
    assert found and found[0].id == expected_first


def test_postcodes_match_by_prefix_only_and_results_are_capped():
    assert stores.search(SHIPPED, "3AQ") == []  # the end of a postcode is not a prefix
    assert ids(stores.search(SHIPPED, "E14")) == ["GB-LON-002"]
    london = ids(stores.search(SHIPPED, "london"))
    assert set(london) == {"GB-LON-001", "GB-LON-002"}
    leeds = [
        stores.Store(
            id=f"L{n:02d}",
            name=f"Leeds {n}",
            town="Leeds",
            postcode=f"LS{n} 1AA",
            country="GB",
            components=["stores-uk"],
        )
        for n in range(15)
    ]
    assert len(stores.search(leeds, "leeds")) == stores.MAX_RESULTS == 10
    assert ids(stores.search(leeds, "LS1"))[:2] == ["L01", "L10"]
    assert stores.search(SHIPPED, "") == stores.search(SHIPPED, "   ") == []
    assert stores.search(SHIPPED, "zz-nowhere") == []
    assert stores.search(SHIPPED, "<script>") == []
    # an exact town beats a word that merely starts with the query
    berlin = ids(stores.search(SHIPPED, "Berlin"))
    assert set(berlin[:2]) == {"DE-BER-001", "DE-BER-002"}


def test_too_long_query_is_refused():
    stores.search(SHIPPED, "x" * 100)
    with pytest.raises(InvalidInput) as caught:
        stores.search(SHIPPED, "x" * 101)
    assert caught.value.field == "q"


def test_user_file_replaces_the_examples(tmp_path: Path):
    (tmp_path / "stores.yaml").write_text(
        "stores:\n"
        "  - id: S1\n    name: Harbour Store\n    town: Portsmouth\n    postcode: PO1 3TN\n"
        "    country: GB\n    components: [stores-uk]\n",
        encoding="utf-8",
    )
    loaded = stores.load_stores(tmp_path)
    assert ids(loaded) == ["S1"]
    assert ids(stores.cached_stores(tmp_path)) == ["S1"]
    assert stores.load_stores(tmp_path / "missing") == SHIPPED


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("stores: [\n  - id: a\n", "stores.yaml:2", "malformed YAML"),
        ("", "stores.yaml:1", "empty"),
        (
            "stores:\n  - id: A\n    name: X\n    town: Y\n    postcode: Z\n    country: gb\n"
            "    components: [stores-uk]\n",
            "stores.yaml:6",
            "stores.0.country",
        ),
        (
            "stores:\n  - id: A\n    name: X\n    town: Y\n    postcode: Z\n    country: GB\n"
            "    components: [stores-uk]\n    colour: red\n",
            "stores.yaml:8",
            "colour",
        ),
        (
            "stores:\n  - id: A\n    name: X\n    town: Y\n    postcode: Z\n    country: GB\n"
            "    components: []\n",
            "stores.yaml:7",
            "components",
        ),
        (
            "stores:\n  - id: A\n    name: X\n    town: Y\n    postcode: Z\n    country: GB\n"
            "    components: [a]\n  - id: A\n    name: X\n    town: Y\n    postcode: Z\n"
            "    country: GB\n    components: [a]\n",
            "stores.yaml:8",
            "listed twice",
        ),
    ],
)
def test_bad_stores_file_names_file_and_line(tmp_path: Path, text, where, reason):
    (tmp_path / "stores.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        stores.load_stores(tmp_path)
    assert caught.value.field == where
    assert reason in caught.value.reason


def test_lookup_reports_worst_status_and_incidents(session, clock, settings):
    ensure_catalogue(session, clock)
    german = make_incident(
        session,
        clock,
        title="Tills down in German stores",
        severity="SEV2",
        components={"stores-de": "partial_outage"},
    )
    view = view_of(session, clock, settings)

    berlin = stores.lookup("Berlin", SHIPPED, view)
    assert [r.store.id for r in berlin][:2] and all(r.store.country == "DE" for r in berlin)
    first = berlin[0]
    assert first.status is ComponentStatus.PARTIAL_OUTAGE
    assert first.components[0].key == "stores-de"  # worst first
    assert [i.ref for i in first.incidents] == [german.ref]

    london = stores.lookup("London", SHIPPED, view)[0]
    assert london.status is ComponentStatus.OPERATIONAL
    assert london.incidents == []


def test_lookup_worst_of_several_components(session, clock, settings):
    incident = payment_incident(session, clock)  # card payments major, UK stores degraded
    view = view_of(session, clock, settings)
    manchester = stores.lookup("M4", SHIPPED, view)[0]
    assert manchester.status is ComponentStatus.MAJOR_OUTAGE
    assert [c.status for c in manchester.components[:2]] == [
        ComponentStatus.MAJOR_OUTAGE,
        ComponentStatus.DEGRADED_PERFORMANCE,
    ]
    assert [i.ref for i in manchester.incidents] == [incident.ref]


# --- the page ------------------------------------------------------------------------------


def test_store_page_in_english_and_german(client, context):
    with context.sessionmaker() as session, session.begin():
        ensure_catalogue(session, context.clock)
        make_incident(
            session,
            context.clock,
            title="Tills slow in UK stores",
            severity="SEV2",
            customer_advice="Allow extra time at the tills.",
            components={"stores-uk": "partial_outage"},
        )

    english = client.get("/stores", params={"q": "Manchester"})
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    assert "Manchester Arndale" in english.text
    assert "1 store found for “Manchester”" in english.text
    assert "Stores in the UK: Partial outage" in " ".join(parse(english.text).all_text().split())
    assert "Tills slow in UK stores" in english.text
    assert "Allow extra time at the tills." in english.text
    assert english.headers["cache-control"].startswith("public, max-age=")
    assert "default-src 'none'" in english.headers["content-security-policy"]
    assert "<script" not in english.text

    german = client.get("/stores", params={"q": "Köln"}, headers={"Accept-Language": "de-DE"})
    assert german.status_code == 200
    assert '<html lang="de">' in german.text
    assert "Köln Schildergasse" in german.text
    assert "Funktioniert" in german.text
    assert "Alles, was diese Filiale braucht, funktioniert normal." in german.text
    assert german.headers["content-language"] == "de"
    assert re.search(r'name="lang" value="de"', german.text)
    assert "Tills slow" not in german.text
    assert 'href="/stores?lang=en&amp;q=K%C3%B6ln" hreflang="en"' in german.text


def test_store_page_escapes_the_query_and_refuses_long_ones(client):
    hostile = client.get("/stores", params={"q": HOSTILE})
    assert hostile.status_code == 200
    assert "<script>alert" not in hostile.text and "<img src=x" not in hostile.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in hostile.text
    assert "No store matches your search" in hostile.text

    too_long = client.get("/stores", params={"q": "x" * 101, "lang": "de"})
    assert too_long.status_code == 422
    assert "Bitte geben Sie höchstens 100 Zeichen ein." in too_long.text
    assert 'aria-invalid="true"' in too_long.text
    assert too_long.headers["cache-control"] == "no-store"

    empty = client.get("/stores")
    assert empty.status_code == 200
    assert "found for" not in empty.text
    assert 'id="store-q"' in empty.text


def test_store_page_reports_a_broken_stores_file(client, context):
    context.settings.data_dir.mkdir(parents=True, exist_ok=True)
    (context.settings.data_dir / "stores.yaml").write_text("stores: [", encoding="utf-8")
    response = client.get("/stores", params={"q": "Berlin"})
    assert response.status_code == 503
    assert "Store search is unavailable right now" in response.text


def test_store_page_is_rate_limited(client, context):
    limit = context.settings.public_rate_limit_per_minute
    codes = [client.get("/stores").status_code for _ in range(limit + 1)]
    assert codes[:limit] == [200] * limit
    assert codes[-1] == 429


def test_store_page_warns_about_unknown_components(client, context, caplog):
    context.settings.data_dir.mkdir(parents=True, exist_ok=True)
    (context.settings.data_dir / "stores.yaml").write_text(
        "stores:\n  - id: X1\n    name: Harbour Store\n    town: Portsmouth\n"
        "    postcode: PO1 3TN\n    country: GB\n    components: [stores-uk, tills-typo]\n",
        encoding="utf-8",
    )
    with caplog.at_level("WARNING", logger="firstword.statuspage"):
        response = client.get("/stores", params={"q": "Portsmouth"})
    assert response.status_code == 200
    assert "Harbour Store" in response.text
    assert "tills-typo" in caplog.text

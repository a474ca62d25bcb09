"""In-store signs (A4 PDF) and till texts, made from the latest published update in the
store's language."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.errors import Conflict, InvalidInput, NotFound
from firstword.core.settings import Settings
from firstword.incidents import service as incidents
from firstword.incidents.schemas import ComponentStatusChange, IncidentRead, UpdatePost
from firstword.incidents.vocabulary import ComponentStatus, IncidentState
from firstword.statuspage import signage
from tests.factories import ensure_catalogue, make_incident

ACTOR = system_actor("tests")
ADVICE = "Please pay by chip and PIN or cash."


def _contactless_down(session: Session, clock: FrozenClock, **overrides: Any) -> IncidentRead:
    fields: dict[str, Any] = {
        "kind": "payment_disruption",
        "severity": "SEV1",
        "title": "Contactless payments failing in UK stores",
        "customer_advice": ADVICE,
        "components": {"contactless-payments": "major_outage"},
    }
    incident = make_incident(session, clock, **(fields | overrides))
    clock.advance(timedelta(minutes=10))
    return incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=incident.ref,
        data=UpdatePost(body="Tap-to-pay is failing at our tills. We're on it."),
    )


def _notice(
    session: Session, clock: FrozenClock, incident: IncidentRead, settings: Settings, **kw: Any
) -> signage.Notice:
    return signage.build_notice(
        incidents.get_incident(session, clock=clock, ref=incident.ref),
        catalogue=incidents.list_components(session),
        settings=settings,
        **kw,
    )


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1, "one A4 page"
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    return " ".join(reader.pages[0].extract_text().split())


def test_english_notice_for_a_uk_store(
    session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = _contactless_down(session, clock)
    store = signage.load_store(settings.data_dir, "GB-LON-001")
    notice = _notice(session, clock, incident, settings, store=store)
    assert notice.lang == "en"
    assert notice.headline == "Contactless payments in store: not working"
    assert notice.affected == [("Contactless payments in store", "not working")]
    assert notice.advice == ADVICE
    # The store's other payment services, still working (not its stores-uk or collection).
    assert notice.working == ["Chip and PIN card payments in store", "Gift cards and e-vouchers"]
    assert notice.updated == "20 Nov 2026, 09:10 GMT"  # London time
    assert notice.body == "Tap-to-pay is failing at our tills. We're on it."
    assert notice.status_url == settings.public_base_url + "/"

    till = signage.till_text(notice)
    lines = till.rstrip("\n").split("\n")
    assert len(lines) <= 4 and all(len(line) <= 40 for line in lines), lines
    assert lines[0].startswith("Contactless payments in store")
    assert "chip and PIN or cash" in " ".join(lines)
    assert lines[-1] == "Info: 127.0.0.1:8000"


def test_german_notice_for_a_german_store(
    session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = _contactless_down(session, clock, customer_advice="")
    store = signage.load_store(settings.data_dir, "DE-BER-001")
    notice = _notice(session, clock, incident, settings, store=store)
    assert notice.lang == "de"
    assert notice.headline == "Kontaktloses Bezahlen in der Filiale: derzeit nicht verfügbar"
    assert notice.updated == "20.11.2026, 10:10 MEZ"  # Berlin time
    till = signage.till_text(notice)
    lines = till.rstrip("\n").split("\n")
    assert len(lines) <= 4 and all(len(line) <= 40 for line in lines), lines
    assert "Funktioniert weiterhin:" in till  # no advice written: what still works instead
    assert "ü" in till  # UTF-8 kept, wrapped by characters, not bytes
    # An explicit language wins over the store's.
    assert _notice(session, clock, incident, settings, store=store, lang="en").lang == "en"


def test_pdf_is_one_a4_page_with_the_headline(
    pdf_ready: None, session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = _contactless_down(session, clock)
    for lang, expected in [
        ("en", "Contactless payments in store: not working"),
        ("de", "Kontaktloses Bezahlen in der Filiale: derzeit nicht verfügbar"),
    ]:
        pdf = signage.sign_pdf(_notice(session, clock, incident, settings, lang=lang))
        assert pdf.startswith(b"%PDF-")
        text = _pdf_text(pdf)
        assert expected in text, text
        assert ADVICE in text and "127.0.0.1:8000" in text
        assert settings.retailer_name in text


def test_hostile_text_is_text_on_the_sign(
    pdf_ready: None, session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = _contactless_down(
        session, clock, customer_advice='<img src="http://127.0.0.1:9/x.png"> & <b>cash</b>'
    )
    html = signage.sign_html(_notice(session, clock, incident, settings, lang="en"))
    assert "&lt;img src=" in html and "<img src=" not in html and "&lt;b&gt;cash" in html
    text = _pdf_text(signage.sign_pdf(_notice(session, clock, incident, settings, lang="en")))
    assert '<img src="http://127.0.0.1:9/x.png"> & <b>cash</b>' in text
    # Only a data: logo is embedded; anything else is left out rather than fetched.
    assert "<img" not in signage.sign_html(
        _notice(session, clock, incident, settings, lang="en"), logo="http://127.0.0.1:9/logo.png"
    )


def test_resolved_sign(session: Session, clock: FrozenClock, settings: Settings) -> None:
    incident = _contactless_down(session, clock)
    incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=incident.ref,
        data=UpdatePost(body="Contactless works again.", state=IncidentState.RESOLVED),
    )
    notice = _notice(session, clock, incident, settings, lang="de")
    assert notice.resolved and notice.headline == "Alles funktioniert wieder normal"
    assert notice.affected == [] and notice.working == [] and notice.advice == ""
    assert signage.till_text(notice).startswith("Alles funktioniert wieder normal.\n")


def test_several_components_get_a_general_headline(
    session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = _contactless_down(
        session,
        clock,
        components={
            "contactless-payments": "major_outage",
            "card-payments": "partial_outage",
            "gift-cards": "degraded_performance",
        },
    )
    notice = _notice(session, clock, incident, settings, lang="en")
    assert notice.headline == "Some of our services are disrupted"
    assert [status for _name, status in notice.affected] == [
        "not working",
        "partly not working",
        "slower than usual",
    ]
    till = signage.till_text(notice)
    assert till.startswith("Some of our services are disrupted.\n")
    assert len(till.rstrip("\n").split("\n")) <= 4


def test_the_sign_follows_the_published_update_not_later_changes(
    session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = _contactless_down(session, clock)
    incidents.set_component_status(
        session,
        clock=clock,
        actor=ACTOR,
        ref=incident.ref,
        data=ComponentStatusChange(components={"card-payments": "major_outage"}),
    )
    notice = _notice(session, clock, incident, settings, lang="en")
    assert notice.headline == "Contactless payments in store: not working"  # as published


def test_no_update_yet_and_bad_input(
    session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = make_incident(session, clock, components={"website": "major_outage"})
    with pytest.raises(Conflict, match="no published update yet"):
        _notice(session, clock, incident, settings)
    published = _contactless_down(session, clock)
    with pytest.raises(InvalidInput, match="unknown language 'fr'"):
        _notice(session, clock, published, settings, lang="fr")
    with pytest.raises(NotFound, match="no store 'XX-1'"):
        signage.load_store(settings.data_dir, "XX-1")


@pytest.mark.parametrize(
    "advice",
    [
        "",
        "Short.",
        "Bitte zahlen Sie mit Karte und PIN oder bar. " * 6,
        "https://very-long-domain.example.com/a/really/long/path/that/never/ends/at/all",
    ],
)
def test_till_text_always_fits(advice: str) -> None:
    notice = signage.Notice(
        ref="INC-2026-0001",
        lang="de",
        brand="Beispiel",
        headline="Einige unserer Dienste sind gestört",
        affected=[("Kontaktloses Bezahlen in der Filiale", "derzeit nicht verfügbar")] * 2,
        advice=advice,
        working=["Chip und PIN", "Geschenkkarten"],
        body="",
        resolved=False,
        updated="",
        status_url="https://status.beispiel-einzelhandel-gmbh-und-co-kg.example/",
        words=signage.WORDS["de"],
    )
    lines = signage.till_text(notice).rstrip("\n").split("\n")
    assert 1 < len(lines) <= 4 and all(0 < len(line) <= 40 for line in lines), lines


def test_store_time_zones() -> None:
    def store(country: str, region: str = "") -> signage.StoreRef:
        return signage.StoreRef("S", "Store", country, region, ())

    assert signage.zone_for(store("US", "CA")).key == "America/Los_Angeles"
    assert signage.zone_for(store("US", "ny")).key == "America/New_York"
    assert signage.zone_for(store("US", "??")).key == "UTC"
    assert signage.zone_for(store("DE")).key == "Europe/Berlin"
    assert signage.zone_for(None).key == "UTC"
    assert signage.language_for(None, store("US")) == "en"
    assert signage.language_for(None, store("DE")) == "de"
    assert ComponentStatus.MAJOR_OUTAGE in signage.WORDS["de"]


def test_cli_writes_the_sign_and_prints_the_till_text(pdf_ready: None, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from firstword import clisupport
    from firstword.cli import app

    def reset() -> None:
        if clisupport._context is not None:
            clisupport._context.close()
        clisupport._context = None

    reset()
    runner = CliRunner()
    env = {"FIRSTWORD_DATA_DIR": str(tmp_path / "data"), "FIRSTWORD_DATABASE_URL": None}
    try:
        opened = runner.invoke(
            app,
            [
                "incidents",
                "open",
                "--title",
                "Contactless failing",
                "--kind",
                "payment_disruption",
                "--severity",
                "sev1",
                "--component",
                "contactless-payments=major_outage",
            ],
            env=env,
        )
        assert opened.exit_code == 0, opened.output
        listed = runner.invoke(app, ["incidents", "list", "--json"], env=env)
        ref = json.loads(listed.output)["items"][0]["ref"]
        refused = runner.invoke(app, ["statuspage", "signage", ref], env=env)
        assert refused.exit_code == 1 and "no published update yet" in refused.output
        posted = runner.invoke(
            app, ["incidents", "update", ref, "--message", "Tap-to-pay is failing."], env=env
        )
        assert posted.exit_code == 0, posted.output
        out, till = tmp_path / "signs" / "door.pdf", tmp_path / "signs" / "till.txt"
        made = runner.invoke(
            app,
            [
                "statuspage",
                "signage",
                ref,
                "--store",
                "DE-BER-001",
                "--out",
                str(out),
                "--till-out",
                str(till),
            ],
            env=env,
        )
        assert made.exit_code == 0, made.output
        assert "Kontaktloses Bezahlen in der Filiale" in _pdf_text(out.read_bytes())
        assert till.read_text(encoding="utf-8").startswith("Kontaktloses Bezahlen in der")
        assert "derzeit nicht verfügbar" in made.output
    finally:
        reset()


def test_long_texts_and_many_services_still_fit_one_page(
    pdf_ready: None, session: Session, clock: FrozenClock, settings: Settings
) -> None:
    keys = [c.key for c in ensure_catalogue(session, clock)]
    incident = _contactless_down(
        session,
        clock,
        customer_advice="Please pay by chip and PIN or cash at any till. " * 60,
        components=dict.fromkeys(keys, "major_outage"),
    )
    incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=incident.ref,
        data=UpdatePost(body="We are still working on it and will tell you more soon. " * 300),
    )
    notice = _notice(session, clock, incident, settings, lang="en")
    assert len(notice.affected) == len(keys) > 8
    assert len(notice.body) <= signage.MAX_BODY_ON_SIGN + 2 and notice.body.endswith("…")
    text = _pdf_text(signage.sign_pdf(notice))  # asserts a single A4 page
    assert "Some of our services are disrupted" in text and "127.0.0.1:8000" in text
    logo = "data:image/png;base64,iVBORw0KGgo="
    assert f'<img src="{logo}"' in signage.sign_html(notice, logo=logo)


def test_without_affected_services_the_till_text_quotes_the_update(
    session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = make_incident(session, clock, kind="customer_data_breach", severity="SEV1")
    incidents.post_update(
        session,
        clock=clock,
        actor=ACTOR,
        ref=incident.ref,
        data=UpdatePost(body="Some customer data was taken. We are contacting those affected."),
    )
    notice = _notice(session, clock, incident, settings, lang="en")
    assert notice.headline == "Service notice" and notice.affected == []
    till = signage.till_text(notice).split("\n")
    assert till[0] == "Some customer data was taken." and till[-2] == "Info: 127.0.0.1:8000"

"""Update templates: every kind has them in English and German, user files override and
add, broken files are named with their line, and filling in uses the incident's facts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from firstword.core.clock import FrozenClock
from firstword.core.errors import InvalidInput, NotFound
from firstword.core.settings import Settings
from firstword.incidents import service as incidents
from firstword.incidents.vocabulary import IncidentKind, IncidentState
from firstword.statuspage import compose
from tests.factories import make_incident

KEYS = ["acknowledgement", "progress", "identified", "monitoring", "resolved"]


def test_every_kind_has_the_five_templates_in_every_language() -> None:
    library = compose.load_templates()
    assert library.problems == ()
    for kind in IncidentKind:
        templates = library.for_kind(kind)
        assert [t.key for t in templates] == KEYS, kind
        for template in templates:
            assert set(template.texts) == {"en", "de"}, (kind, template.key)
            assert template.source == "shipped"
            for text in template.texts.values():
                assert compose.placeholder_problem(text) is None
        states = {t.key: t.state for t in templates}
        assert states["acknowledgement"] is IncidentState.INVESTIGATING
        assert states["resolved"] is IncidentState.RESOLVED
        assert states["progress"] is None  # keeps the state


def test_unknown_template_is_not_found() -> None:
    with pytest.raises(NotFound, match="known: acknowledgement, progress"):
        compose.load_templates().get(IncidentKind.OUTAGE, "nope")


def test_user_files_override_add_and_retire(tmp_path: Path) -> None:
    folder = tmp_path / "update_templates"
    folder.mkdir()
    (folder / "10-ours.yaml").write_text(
        "kind: outage\n"
        "templates:\n"
        "  - key: acknowledgement\n"
        "    text:\n"
        "      de: 'Wir kümmern uns: {components}.'\n"
        "  - key: store-closed\n"
        "    label: Store closed early\n"
        "    state: identified\n"
        "    text:\n"
        "      en: '{brand} stores close early today.'\n"
        "  - key: progress\n"
        "    retired: true\n",
        encoding="utf-8",
    )
    library = compose.load_templates(tmp_path)
    assert library.problems == ()
    keys = [t.key for t in library.for_kind(IncidentKind.OUTAGE)]
    assert keys == ["acknowledgement", "identified", "monitoring", "resolved", "store-closed"]
    ack = library.get(IncidentKind.OUTAGE, "acknowledgement")
    assert ack.texts["de"] == "Wir kümmern uns: {components}."
    assert "We know there's a problem" in ack.texts["en"]  # English kept from the shipped file
    assert ack.state is IncidentState.INVESTIGATING and ack.source.endswith("10-ours.yaml")
    added = library.get(IncidentKind.OUTAGE, "store-closed")
    assert added.label == "Store closed early" and added.state is IncidentState.IDENTIFIED
    # Other kinds are untouched.
    assert len(library.for_kind(IncidentKind.RANSOMWARE)) == 5


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("kind: outage\ntemplates:\n  - key: x\n    text: {en: 'Hi {name}'}\n", ":4", "{name}"),
        ("kind: outage\ntemplates:\n  - key: x\n    text: {fr: 'Salut'}\n", ":4", "'fr'"),
        ("kind: outage\ntemplates:\n  - key: x\n    text: {en: 'a } b'}\n", ":4", "brace"),
        ("kind: outage\ntemplates:\n  - key: x\n    text: {en: '{brand!r}'}\n", ":4", "format"),
        ("kind: outage\ntemplates:\n  - key: x\n    text: {en: '{brand.upper}'}\n", ":4", "brand"),
        ("kind: outages\ntemplates: []\n", ":1", "kind"),
        ("kind: outage\ntemplates:\n  - key: a\n    text: {en: x}\n  - key: a\n", ":5", "twice"),
        ("kind: outage\ntemplates:\n  - key: Bad Key\n", ":3", "key"),
        ("kind: outage\ntemplates: [\n", ":", "malformed YAML"),
        ("kind: outage\ntemplates:\n  - key: brand-new\n", "", "has no text"),
    ],
)
def test_a_broken_user_file_is_skipped_and_named(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    folder = tmp_path / "update_templates"
    folder.mkdir()
    (folder / "broken.yaml").write_text(text, encoding="utf-8")
    library = compose.load_templates(tmp_path)
    [problem] = library.problems
    assert problem.startswith("broken.yaml" + where), problem
    assert reason in problem, problem
    assert len(library.for_kind(IncidentKind.OUTAGE)) == 5  # the shipped ones still work


def test_fill_drops_paragraphs_left_empty() -> None:
    text = "Problem with {components}.\n\n{customer_advice}\n\nNext by {next_update}."
    values = {"components": "A and B", "customer_advice": "", "next_update": "10:00 UTC"}
    assert compose.fill(text, values) == "Problem with A and B.\n\nNext by 10:00 UTC."
    with pytest.raises(InvalidInput, match="unknown placeholder"):
        compose.fill("{nope}", values)


def test_components_in_words_per_language() -> None:
    assert compose.in_words(["Website", "Mobile app", "Live chat"], "en") == (
        "Website, Mobile app and Live chat"
    )
    assert compose.in_words(["Website", "Live chat"], "de") == "Website und Live chat"
    assert compose.in_words([], "de") == "einige unserer Dienste"


def test_draft_is_filled_from_the_incident(
    session: Session, clock: FrozenClock, settings: Settings
) -> None:
    incident = make_incident(
        session,
        clock,
        kind="payment_disruption",
        severity="SEV1",
        customer_advice="Please pay by chip and PIN or cash.",
        components={"contactless-payments": "major_outage", "card-payments": "operational"},
    )
    policy = incidents.load_cadence_policy()
    library = compose.load_templates()
    ack = library.get(IncidentKind.PAYMENT_DISRUPTION, "acknowledgement")

    english = compose.draft(
        incident, ack, lang="en", now=clock.now(), settings=settings, policy=policy
    )
    assert "This affects: Contactless payments in store." in english
    assert "Chip and PIN" not in english.split("\n\n")[0]  # operational: not "affected"
    assert "Please pay by chip and PIN or cash." in english
    assert english.endswith("by 09:30 UTC.")  # SEV1: every 30 minutes from now (09:00)
    assert "{" not in english and "\n\n\n" not in english

    german = compose.draft(
        incident, ack, lang="de", now=clock.now(), settings=settings, policy=policy
    )
    assert "Betroffen: Kontaktloses Bezahlen in der Filiale." in german  # translated name
    assert german.endswith("bis 09:30 UTC.")

    # Late in the day, the next update falls on another date: the date is written out.
    clock.advance(timedelta(hours=14, minutes=45))
    late = compose.draft(
        incident, ack, lang="de", now=clock.now(), settings=settings, policy=policy
    )
    assert late.endswith("bis 21.11.2026, 00:15 UTC.")

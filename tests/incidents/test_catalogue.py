"""The component catalogue: shipped file, user overrides, idempotence, errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firstword.core import audit
from firstword.core.auth.roles import system_actor
from firstword.core.clock import FrozenClock
from firstword.core.errors import Conflict, InvalidInput
from firstword.incidents import service as incidents
from firstword.incidents.schemas import ComponentIn, IncidentCreate
from tests.factories import ensure_catalogue, make_incident

ACTOR = system_actor("tests")


def _audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(audit.AuditEntry)) or 0


def test_shipped_catalogue_is_loaded_once(session: Session, clock: FrozenClock) -> None:
    first = ensure_catalogue(session, clock)
    keys = {c.key for c in first}
    assert {
        "website",
        "mobile-app",
        "online-checkout",
        "account-sign-in",
        "contactless-payments",
        "card-payments",
        "online-card-payments",
        "gift-cards",
        "click-and-collect",
        "home-delivery",
        "stores-uk",
        "stores-de",
        "stores-us",
        "phone-lines",
        "live-chat",
        "email-support",
        "loyalty-programme",
    } == keys
    groups = list(dict.fromkeys(c.group for c in first))
    assert groups == ["Online", "Payments", "Fulfilment", "Stores", "Customer service", "Loyalty"]
    assert all(c.status == "operational" and c.is_active for c in first)
    entries = _audit_count(session)
    second = ensure_catalogue(session, clock)
    assert second == first
    assert _audit_count(session) == entries  # idempotent: nothing changed, nothing recorded


def test_ensure_never_touches_status(session: Session, clock: FrozenClock) -> None:
    make_incident(session, clock, components={"stores-de": "partial_outage"})
    ensure_catalogue(session, clock)
    status = {c.key: c.status for c in incidents.list_components(session)}
    assert status["stores-de"] == "partial_outage"


def test_user_file_renames_retires_and_adds(
    session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    user_file = tmp_path / "components.yaml"
    user_file.write_text(
        "components:\n"
        "  - key: website\n"
        "    name: www.example.co.uk\n"
        "  - key: gift-cards\n"
        "    retired: true\n"
        "  - key: pharmacy\n"
        "    name: Online pharmacy\n"
        "    group: Online\n"
        "    description: <b>Prescriptions</b>\n"
    )
    ensure_catalogue(session, clock)
    listed = {c.key: c for c in ensure_catalogue(session, clock, user_file=user_file)}
    assert listed["website"].name == "www.example.co.uk"
    assert listed["website"].group == "Online"  # untouched fields keep the shipped value
    assert "gift-cards" not in listed
    assert listed["pharmacy"].description == "<b>Prescriptions</b>"
    ordered = [c.key for c in incidents.list_components(session)]
    assert ordered.index("pharmacy") < ordered.index("contactless-payments")  # group Online
    with pytest.raises(InvalidInput) as err:  # retired: unknown to new incidents
        incidents.open_incident(
            session,
            clock=clock,
            actor=ACTOR,
            data=IncidentCreate(
                title="Gift cards down",
                kind="outage",
                severity="SEV3",
                components={"gift-cards": "major_outage"},
            ),
        )
    assert err.value.field == "components.gift-cards"
    # un-retiring brings it back
    user_file.write_text("components:\n  - key: gift-cards\n    retired: false\n")
    assert "gift-cards" in {c.key for c in ensure_catalogue(session, clock, user_file=user_file)}


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("components:\n  - key: website\n    name: [oops\n", 4, "malformed YAML"),
        ("components:\n  - key: website\n    colour: red\n", 3, "colour"),
        ("components:\n  - key: Bad Key!\n", 2, "components.0.key"),
        (
            "components:\n  - key: website\n  - key: brand-new\n    group: Online\n",
            3,
            "needs a name",
        ),
        (
            "components:\n  - key: a\n    name: A\n    group: G\n  - key: a\n    name: B\n"
            "    group: G\n",
            5,
            "listed twice",
        ),
        ("- key: website\n", 1, "CatalogueFile"),
    ],
)
def test_malformed_user_file_names_line(
    session: Session, clock: FrozenClock, tmp_path: Path, text: str, line: int, words: str
) -> None:
    user_file = tmp_path / "components.yaml"
    user_file.write_text(text)
    entries = _audit_count(session)
    with pytest.raises(InvalidInput) as err:
        ensure_catalogue(session, clock, user_file=user_file)
    assert err.value.field == f"components.yaml:{line}", err.value.reason
    assert words in err.value.reason
    assert _audit_count(session) == entries
    assert incidents.list_components(session) == []


def test_add_component(session: Session, clock: FrozenClock) -> None:
    ensure_catalogue(session, clock)
    added = incidents.add_component(
        session,
        clock=clock,
        actor=ACTOR,
        data=ComponentIn(key="stores-ie", name="Stores in Ireland", group="Stores", position=135),
    )
    assert added.status == "operational"
    ordered = [c.key for c in incidents.list_components(session)]
    assert ordered.index("stores-us") < ordered.index("stores-ie") < ordered.index("phone-lines")
    with pytest.raises(Conflict):
        incidents.add_component(
            session,
            clock=clock,
            actor=ACTOR,
            data=ComponentIn(key="stores-ie", name="x", group="Stores"),
        )
    assert audit.entries_for(session, "component", "stores-ie")[0].action == "component.added"

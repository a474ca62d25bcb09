"""Playbooks as data: shipped files, user overrides, and errors naming file and line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from firstword.core.clock import FrozenClock
from firstword.core.errors import InvalidInput
from firstword.incidents import service as incidents
from firstword.incidents.playbook import SHIPPED_DIR, load_library, parse_due_after
from firstword.incidents.vocabulary import IncidentKind
from tests.factories import make_incident

USER_OUTAGE = """\
key: online-ordering-outage
name: Our own outage playbook
kind: outage
default: true
tasks:
  - title: Page the e-commerce on-call
    owner_role: incident_commander
    due_after: 5
  - title: Tweet from the brand account
    owner_role: communications
    due_after: PT20M
"""


def test_shipped_playbooks_cover_every_kind_once() -> None:
    playbooks = incidents.list_playbooks()
    assert len(playbooks) == 6
    assert {p.kind for p in playbooks} == set(IncidentKind)
    assert all(p.default and p.source == "shipped" for p in playbooks)
    for p in playbooks:
        assert len(p.tasks) >= 8, p.key
        assert {t.owner_role for t in p.tasks} >= {"communications", "incident_commander"} or {
            t.owner_role for t in p.tasks
        } >= {"communications", "legal"}
    breach = next(p for p in playbooks if p.key == "customer-data-breach")
    titles = " ".join(t.title for t in breach.tasks)
    for phrase in ("72", "legal hold", "Am I affected?", "customer service"):
        assert phrase in titles
    ransomware = next(p for p in playbooks if p.key == "ransomware")
    assert any("precautionary shutdown" in t.title for t in ransomware.tasks)
    card = next(p for p in playbooks if p.key == "card-breach")
    assert any("PCI Forensic Investigator" in t.title for t in card.tasks)
    outage = next(p for p in playbooks if p.key == "online-ordering-outage")
    ack = next(t for t in outage.tasks if "acknowledgement" in t.title)
    assert ack.due_after_seconds == 15 * 60


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PT30M", timedelta(minutes=30)),
        ("PT4H", timedelta(hours=4)),
        ("P3D", timedelta(days=3)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P2W", timedelta(weeks=2)),
        (90, timedelta(minutes=90)),
        (0, timedelta(0)),
    ],
)
def test_due_after_formats(raw: object, expected: timedelta) -> None:
    assert parse_due_after(raw) == expected


@pytest.mark.parametrize("raw", ["P1Y", "P1M", "30m", "PT", "P", -5, True, "P400D", 1.5])
def test_due_after_refuses(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_due_after(raw)


def test_user_playbook_overrides_shipped_one(
    session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    (tmp_path / "outage.yaml").write_text(USER_OUTAGE)
    listed = {p.key: p for p in incidents.list_playbooks([tmp_path])}
    assert len(listed) == 6
    mine = listed["online-ordering-outage"]
    assert mine.source == "user" and mine.name == "Our own outage playbook"
    assert [t.due_after_seconds for t in mine.tasks] == [300, 1200]
    inc = make_incident(session, clock, playbook_dirs=[tmp_path])
    assert [t.title for t in inc.tasks] == [
        "Page the e-commerce on-call",
        "Tweet from the brand account",
    ]
    assert inc.tasks[0].due_at == inc.detected_at + timedelta(minutes=5)


def test_user_default_for_a_kind_wins(session: Session, clock: FrozenClock, tmp_path: Path) -> None:
    (tmp_path / "store-network.yml").write_text(
        USER_OUTAGE.replace("key: online-ordering-outage", "key: store-network-outage")
    )
    library = load_library([tmp_path])
    chosen = library.default_for(IncidentKind.OUTAGE)
    assert chosen is not None and chosen.playbook.key == "store-network-outage"
    assert len(library.by_key) == 7
    inc = make_incident(session, clock, playbook_dirs=[tmp_path])
    assert inc.playbook == "store-network-outage"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # YAML syntax error: the flow sequence opened on line 4 never closes (found at EOF)
        ("key: x\nname: X\nkind: outage\ntasks: [\n  {title: a\n", 6, "malformed YAML"),
        # schema error: unknown role of the second task, on line 10
        (
            USER_OUTAGE.replace("owner_role: communications", "owner_role: intern"),
            10,
            "tasks.1.owner_role",
        ),
        # bad duration on line 8
        (USER_OUTAGE.replace("due_after: 5", "due_after: soon"), 8, "ISO-8601"),
        # unknown kind on line 3
        (USER_OUTAGE.replace("kind: outage", "kind: meteor"), 3, "kind"),
        # a field that does not exist, on line 4
        (USER_OUTAGE.replace("default: true", "defualt: true"), 4, "defualt"),
        # the title missing: the line of the task itself
        (
            USER_OUTAGE.replace(
                "  - title: Page the e-commerce on-call\n    owner_role", "  - owner_role"
            ),
            6,
            "tasks.0.title",
        ),
        ("", 1, "empty"),
        ("- just\n- a list\n", 1, "Playbook"),
    ],
)
def test_malformed_user_playbook_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput) as err:
        incidents.load_playbook_file(path)
    assert err.value.field == f"broken.yaml:{line}", err.value.reason
    assert words in err.value.reason or words in err.value.message
    with pytest.raises(InvalidInput) as listed:
        incidents.list_playbooks([tmp_path])
    assert listed.value.field == err.value.field


def test_broken_user_playbook_does_not_block_opening(
    session: Session, clock: FrozenClock, tmp_path: Path
) -> None:
    (tmp_path / "typo.yaml").write_text("key: x\nkind: [\n")
    inc = make_incident(session, clock, playbook_dirs=[tmp_path])
    assert inc.playbook == "online-ordering-outage"  # the shipped default still applies
    problems = [e for e in incidents.timeline(session, ref=inc.ref) if e.kind == "playbook_problem"]
    assert len(problems) == 1 and problems[0].after is not None
    assert problems[0].after["file"].startswith("typo.yaml:")


def test_duplicate_key_in_user_directory(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(USER_OUTAGE)
    (tmp_path / "b.yaml").write_text("# copy\n" + USER_OUTAGE)
    with pytest.raises(InvalidInput) as err:
        incidents.list_playbooks([tmp_path])
    assert err.value.field == "b.yaml:2" and "a.yaml" in err.value.reason


def test_shipped_directory_holds_only_valid_files() -> None:
    files = sorted(SHIPPED_DIR.glob("*.yaml"))
    assert len(files) == 6
    for path in files:
        assert incidents.load_playbook_file(path).key == path.stem

"""The status page's demo steps: the page is rendered and narrated as the incident moves, a
late update is caught and alerted, signs and till texts are printed for a UK and a German
store, and the public site is exported as static files that show the incidents."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from rich.console import Console
from sqlalchemy import select

from firstword.context import build_context
from firstword.core.clock import FrozenClock
from firstword.core.outbox import OutboxMessage
from firstword.core.settings import Settings
from firstword.demo import runner, scenario, steps
from firstword.incidents import service as incidents

START = datetime(2026, 11, 20, 18, 40, tzinfo=UTC)


def test_status_page_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pdf_ready: None
) -> None:
    monkeypatch.delenv("FIRSTWORD_DATABASE_URL", raising=False)
    assert "firstword.statuspage.demo" in steps.STEP_MODULES
    settings = Settings(data_dir=tmp_path / "data", database_url=None)
    result = runner.run_demo(
        settings,
        runner.DemoOptions(customers=300, seed=5, password="test password 123", start=START),
        console=Console(file=io.StringIO(), width=120),
        now=START + timedelta(days=4),
    )
    said = "\n".join(result.said)
    outage, breach = result.shared["outage_ref"], result.shared["breach_ref"]
    ran = runner.read_marker(result.demo_dir)["steps"]
    assert ran.index("incidents.open-outage") < ran.index("statuspage.opened")
    assert ran.index("incidents.resolved") < ran.index("statuspage.resolved")
    assert ran.index("statuspage.export") < ran.index("incidents.summary")

    # Narrated as it moves: the outage takes the page to a major outage, the resolution
    # leaves the breach as the one active incident.
    assert "Status page: Major System Outage — Mobile app (major outage)" in said
    resolved = next(line for line in result.said if "The outage is resolved." in line)
    assert "every component operational" in resolved and breach in resolved
    assert outage not in resolved.split("Active:", 1)[1]

    # The late update at T+3:05: the outage (SEV1 since T+2h) last spoke at T+2:30.
    late = next(line for line in result.said if "min late" in line)
    assert f"{outage}'s next public update was due by 21:40 UTC (SEV1); it is 5 min late" in late
    # Signs and till texts for a London and a Berlin store.
    folder = result.demo_dir / "signage"
    for store, lang, headline in [
        ("GB-LON-001", "en", "Some of our services are disrupted"),
        ("DE-BER-001", "de", "Einige unserer Dienste sind gestört"),
    ]:
        pdf = (folder / f"{outage}-{store}-{lang}.pdf").read_bytes()
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1
        assert headline in " ".join(reader.pages[0].extract_text().split())
        till = (folder / f"{outage}-{store}-{lang}.txt").read_text(encoding="utf-8")
        lines = till.rstrip("\n").split("\n")
        assert lines[0] == headline + "." and len(lines) <= 4
        assert all(len(line) <= 40 for line in lines)

    # The exported static site shows both incidents, in both languages.
    site = result.demo_dir / "status-site"
    assert result.shared["status_site"] == site.absolute()
    english = (site / "index.en.html").read_text(encoding="utf-8")
    assert scenario.OUTAGE_TITLE in english and scenario.BREACH_TITLE in english
    assert scenario.BREACH_TITLE in (site / "index.de.html").read_text(encoding="utf-8")
    summary = json.loads((site / "api" / "v2" / "summary.json").read_text(encoding="utf-8"))
    assert [i["name"] for i in summary["incidents"]] == [scenario.BREACH_TITLE]
    assert (site / "index.html").read_bytes() == (site / "index.en.html").read_bytes()

    # What the cadence check left in the database: one miss, an e-mail per person on duty.
    context = build_context(settings, clock=FrozenClock(START + timedelta(days=3)))
    try:
        with context.sessionmaker() as session:
            [miss] = incidents.cadence_misses(session, ref=outage)
            assert miss.due_at == START + timedelta(hours=3)
            assert miss.posted_at == START + timedelta(hours=4) and miss.minutes_late == 60
            alerts = session.scalars(
                select(OutboxMessage.recipient).where(
                    OutboxMessage.topic == "incidents.update_overdue"
                )
            ).all()
            assert sorted(alerts) == sorted(
                result.users[key].email for key in ("incident_commander", "communications")
            )
    finally:
        context.close()

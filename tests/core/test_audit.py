from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from firstword.core import audit
from firstword.core.clock import FrozenClock


def _three_entries(session: Session, clock: FrozenClock) -> list[audit.AuditEntry]:
    entries = []
    for i in range(3):
        clock.advance(timedelta(minutes=1))
        entries.append(
            audit.record(
                session,
                clock=clock,
                actor="ic@example.com",
                action="incident.updated",
                object_type="incident",
                object_id="INC-2026-0001",
                detail={"n": i, "x": "<b>"},
            )
        )
    return entries


def test_chain_verifies_when_untouched(session: Session, clock: FrozenClock) -> None:
    entries = _three_entries(session, clock)
    assert entries[1].prev_hash == entries[0].hash
    report = audit.verify_chain(session)
    assert report.ok and report.entries == 3


def test_edited_entry_breaks_the_chain(session: Session, clock: FrozenClock) -> None:
    entries = _three_entries(session, clock)
    session.execute(
        update(audit.AuditEntry)
        .where(audit.AuditEntry.id == entries[1].id)
        .values(detail='{"n":99}')
    )
    session.expire_all()
    report = audit.verify_chain(session)
    assert not report.ok
    assert report.first_bad_id == entries[1].id


def test_deleted_entry_breaks_the_chain(session: Session, clock: FrozenClock) -> None:
    entries = _three_entries(session, clock)
    session.delete(entries[1])
    session.flush()
    report = audit.verify_chain(session)
    assert not report.ok
    assert report.first_bad_id == entries[2].id

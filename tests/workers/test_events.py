"""Domain events travel through the outbox and reach their handlers through a worker."""

from __future__ import annotations

from typing import Any

from firstword.context import Context
from firstword.core import events, outbox
from firstword.workers.events import install_event_channel
from firstword.workers.run import run_worker


def test_event_reaches_its_handlers_once_via_the_worker(committing_context: Context) -> None:
    seen: list[dict[str, Any]] = []
    failures = {"left": 1}

    def flaky(payload: dict[str, Any]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("renderer busy")
        seen.append(payload)

    install_event_channel(committing_context, providers=[lambda _ctx: {"demo.happened": [flaky]}])
    ctx = committing_context
    with ctx.sessionmaker() as session, session.begin():
        events.publish(session, clock=ctx.clock, topic="demo.happened", key="1", payload={"n": 1})
        events.publish(
            session, clock=ctx.clock, topic="demo.happened", key="1", payload={"n": 1}
        )  # the same event again: recorded once

    first = run_worker(ctx, worker_id="w1", once=True)
    assert first.retrying == 1 and seen == []
    with ctx.sessionmaker() as session:
        row = session.query(outbox.OutboxMessage).one()
        assert row.status == outbox.OutboxStatus.PENDING and "renderer busy" in (
            row.last_error or ""
        )
        ctx.clock.set(row.next_attempt_at)  # type: ignore[attr-defined]
    second = run_worker(ctx, worker_id="w1", once=True)
    assert second.delivered == 1
    assert seen == [{"n": 1}]


def test_incident_changes_publish_events(session: Any, clock: Any) -> None:
    from tests.factories import ensure_catalogue, make_incident

    ensure_catalogue(session, clock)
    incident = make_incident(session, clock)
    rows = session.query(outbox.OutboxMessage).filter_by(channel=events.EVENT_CHANNEL).all()
    assert [r.recipient for r in rows] == ["incident.changed"]
    assert rows[0].payload["ref"] == incident.ref

"""Fan-out: one outbox message per confirmed subscriber for a public incident update.

Runs in the worker, for the `incident.changed` event of kind `public_update`. Subscribers are
walked in id order, BATCH_SIZE at a time (keyset pagination), each batch queued and committed
in its own short transaction, so a million subscribers never sit in memory and no
transaction stays open for long. Every message's idempotency key is
`sub:<subscriber id>:update:<update id>`: when the event is retried (a crash half-way, a
failed batch), the batches already queued are skipped and nothing is sent twice.

Who is told: confirmed subscribers to all components, and those who chose at least one of
the components the incident or the update names. An incident with no components reaches
only the all-components subscribers (as on Atlassian Statuspage).
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core import outbox
from firstword.core.db import transaction
from firstword.core.errors import NotFound
from firstword.incidents import service as incidents
from firstword.incidents.schemas import IncidentRead, TimelineEntryRead, UpdateRead
from firstword.statuspage import subscription_messages as messages
from firstword.statuspage.subscription_models import (
    Subscriber,
    SubscriberChannel,
    SubscriberComponent,
    SubscriberStatus,
)

log = logging.getLogger("firstword.statuspage")

BATCH_SIZE = 500
TOPIC_UPDATE = "statuspage.update"


def update_key(subscriber_id: int, update_id: int) -> str:
    return f"sub:{subscriber_id}:update:{update_id}"


def _update_for(incident: IncidentRead, entry: TimelineEntryRead) -> UpdateRead | None:
    """The public update a `public_update` timeline entry recorded: the newest update posted
    no later than the entry with the entry's text (not simply the newest update, which may
    be a later one whose own event is still to come)."""
    candidates = [u for u in incident.updates if u.posted_at <= entry.at]
    body = (entry.after or {}).get("body")
    same_text = [u for u in candidates if u.body == body]
    chosen = same_text or candidates
    return max(chosen, key=lambda u: (u.posted_at, u.id)) if chosen else None


def _load(context: Context, ref: str, entry_id: int) -> tuple[IncidentRead, UpdateRead] | None:
    with transaction(context.sessionmaker) as session:
        try:
            incident = incidents.get_incident(session, clock=context.clock, ref=ref)
            entries = incidents.timeline(session, ref=ref)
        except NotFound:
            log.warning("subscriber fan-out: incident %s no longer exists", ref)
            return None
    entry = next((e for e in entries if e.id == entry_id), None)
    if entry is None or entry.kind != "public_update":
        log.warning("subscriber fan-out: %s has no public update entry %d", ref, entry_id)
        return None
    update = _update_for(incident, entry)
    if update is None:
        log.warning("subscriber fan-out: no update found for %s entry %d", ref, entry_id)
        return None
    return incident, update


def _batch(
    session: Session, after_id: int, keys: set[str]
) -> list[tuple[int, str, str, str, str, str | None]]:
    interested: ColumnElement[bool] = Subscriber.all_components.is_(True)
    if keys:
        chose = select(SubscriberComponent.subscriber_id).where(
            SubscriberComponent.component_key.in_(sorted(keys))
        )
        interested = or_(interested, Subscriber.id.in_(chose))
    rows = session.execute(
        select(
            Subscriber.id,
            Subscriber.public_id,
            Subscriber.channel,
            Subscriber.address,
            Subscriber.language,
            Subscriber.secret,
        )
        .where(
            Subscriber.status == SubscriberStatus.CONFIRMED.value,
            Subscriber.id > after_id,
            interested,
        )
        .order_by(Subscriber.id)
        .limit(BATCH_SIZE)
    )
    return [(r.id, r.public_id, r.channel, r.address, r.language, r.secret) for r in rows]


def _queued_already(session: Session, keys: list[str]) -> set[str]:
    found = session.scalars(
        select(outbox.OutboxMessage.idempotency_key).where(
            outbox.OutboxMessage.idempotency_key.in_(keys)
        )
    )
    return set(found)


def notify_update(context: Context, *, ref: str, entry_id: int) -> int:
    """Queue the update recorded by timeline entry `entry_id` of incident `ref` for every
    interested confirmed subscriber; returns how many messages were newly queued."""
    loaded = _load(context, ref, entry_id)
    if loaded is None:
        return 0
    incident, update = loaded
    composer = messages.UpdateMessages(
        site=messages.Site.of(context.settings), incident=incident, update=update
    )
    keys = composer.component_keys()
    queued = 0
    after_id = 0
    while True:
        with transaction(context.sessionmaker) as session:
            batch = _batch(session, after_id, keys)
            if not batch:
                break
            existing = _queued_already(session, [update_key(r[0], update.id) for r in batch])
            for sub_id, public_id, channel, address, language, secret in batch:
                key = update_key(sub_id, update.id)
                if key in existing:
                    continue
                link = messages.unsubscribe_url(composer.site, context.secret_key, public_id)
                kind = SubscriberChannel(channel)
                row = outbox.enqueue(
                    session,
                    clock=context.clock,
                    channel=messages.OUTBOX_CHANNEL[kind],
                    recipient=address,
                    payload=composer.payload(kind, language, link, secret),
                    idempotency_key=key,
                    topic=TOPIC_UPDATE,
                    reference=incident.ref,
                )
                queued += row is not None
        if len(batch) < BATCH_SIZE:
            break
        after_id = batch[-1][0]
    log.info(
        "subscriber fan-out: %s update %d queued for %d subscriber(s)",
        incident.ref,
        update.id,
        queued,
    )
    return queued

"""Status-page subscriptions: subscribe (double opt-in), confirm, unsubscribe, counts, and the
event handler that tells confirmed subscribers about every public incident update.

Channels and how each is confirmed:
* e-mail: a confirmation link (valid 48 hours); the confirm page asks for a click, so a mail
  scanner that follows links confirms nothing;
* SMS: a 6-digit code by text message, entered on the page (30 minutes, 5 attempts; stored
  only as an HMAC);
* webhook: a signed `subscription.confirm` POST to the URL carrying a `confirm_url`; the
  receiver confirms by POSTing to it (the AWS SNS pattern), so nobody can point our webhooks
  at a URL whose owner did not agree. The signing secret is shown once, on the page that
  answers the subscribe form.

No enumeration: `subscribe` answers the same whatever the address's state. For an address
already confirmed it changes nothing and sends an "already subscribed" note (e-mail, SMS)
instead of a confirmation. At most MAX_CONFIRMATIONS_PER_HOUR confirmation messages go to one
address per hour; beyond that a request changes nothing and sends nothing (same answer).

Unsubscribe links are `<public id>.<HMAC-SHA256(instance secret, public id)>`: every message
carries one, so they are derived rather than stored; changing FIRSTWORD_SECRET_KEY voids the
links already sent. Confirmation tokens are random and stored as SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from firstword.context import Context
from firstword.core import outbox
from firstword.core.clock import Clock
from firstword.core.db import is_postgresql
from firstword.core.events import EventHandler
from firstword.core.ids import new_token, sha256_hex
from firstword.core.settings import Settings
from firstword.incidents import service as incidents
from firstword.statuspage import subscription_messages as messages
from firstword.statuspage.i18n import PAGE_LANGUAGES
from firstword.statuspage.subscription_fanout import notify_update
from firstword.statuspage.subscription_messages import unsubscribe_token, unsubscribe_url
from firstword.statuspage.subscription_models import (
    Subscriber,
    SubscriberChannel,
    SubscriberComponent,
    SubscriberStatus,
)
from firstword.statuspage.subscription_targets import (
    AddressProblem,
    Resolver,
    address_hash,
    masked,
    normalise,
    normalise_phone,
)

__all__ = [
    "SubscribeRequest",
    "SubscribeResult",
    "SubscriberChannel",
    "SubscriberSummary",
    "SubscriptionView",
    "confirm",
    "event_handlers",
    "pending_for_token",
    "subscribe",
    "subscriber_summary",
    "subscription_for_unsubscribe",
    "unsubscribe",
    "unsubscribe_token",
    "verify_code",
]

CONFIRM_VALID = timedelta(hours=48)
CODE_VALID = timedelta(minutes=30)
MAX_CODE_ATTEMPTS = 5
MAX_CONFIRMATIONS_PER_HOUR = 3
MAX_COMPONENTS = 500
TOPIC_CONFIRM = "statuspage.subscription"
INCIDENT_CHANGED = "incident.changed"


class SubscribeRequest(BaseModel):
    """What the subscribe form sends. `components` empty means every component."""

    model_config = ConfigDict(extra="forbid")

    channel: SubscriberChannel
    address: str = Field(max_length=2000)
    components: list[str] = Field(default_factory=list, max_length=MAX_COMPONENTS)
    language: str = "en"


class SubscribeResult(BaseModel):
    """The same shape whatever the address's state (no enumeration). `webhook_secret` is the
    signing secret for a new or pending webhook, else a random one that signs nothing."""

    channel: SubscriberChannel
    address: str
    webhook_secret: str | None = None


class SubscriptionView(BaseModel):
    """A subscription as the confirm and unsubscribe pages show it."""

    channel: SubscriberChannel
    address: str  # masked
    language: str
    all_components: bool
    components: list[str]
    status: SubscriberStatus


class SubscriberSummary(BaseModel):
    total: int  # every stored subscriber, whatever the status
    confirmed: int
    pending: int
    unsubscribed: int
    by_channel: dict[str, int]  # confirmed, per channel
    all_components: int  # confirmed, subscribed to everything
    by_component: dict[str, int]  # confirmed, per chosen component key
    unsubscribed_last_7_days: int


# --- tokens -----------------------------------------------------------------------------


def _public_id_of(secret_key: str, token: str) -> str | None:
    public_id, dot, _ = token.partition(".")
    if not dot or not public_id or len(token) > 100:
        return None
    expected = unsubscribe_token(secret_key, public_id)
    return public_id if hmac.compare_digest(expected.encode(), token.encode()) else None


def _code_hash(secret_key: str, public_id: str, code: str) -> str:
    message = f"firstword-sms-code:{public_id}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _view(row: Subscriber) -> SubscriptionView:
    return SubscriptionView(
        channel=SubscriberChannel(row.channel),
        address=masked(row.channel, row.address),
        language=row.language,
        all_components=row.all_components,
        components=[c.component_key for c in row.components],
        status=SubscriberStatus(row.status),
    )


# --- subscribing ------------------------------------------------------------------------


def _check_components(session: Session, keys: Sequence[str]) -> list[str]:
    wanted = sorted({k.strip() for k in keys if k.strip()})
    if not wanted:
        return []
    known = {c.key for c in incidents.list_components(session)}
    unknown = [k for k in wanted if k not in known]
    if unknown:
        shown = ", ".join(repr(k[:100]) for k in unknown[:5])
        raise AddressProblem("components", "components_unknown", f"unknown components: {shown}")
    return wanted


def _locked(session: Session, digest: str) -> Subscriber | None:
    query = select(Subscriber).where(Subscriber.address_hash == digest)
    if is_postgresql(session):
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def _find_or_create(
    session: Session, *, channel: SubscriberChannel, address: str, now: datetime
) -> Subscriber:
    digest = address_hash(channel, address)
    row = _locked(session, digest)
    if row is not None:
        return row
    row = Subscriber(
        public_id=new_token(12),
        channel=channel.value,
        address=address,
        address_hash=digest,
        language="en",
        all_components=True,
        status=SubscriberStatus.UNSUBSCRIBED.value,  # becomes pending below
        code_attempts=0,
        recent_sends=[],
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same address, subscribed concurrently: use that row
        found = _locked(session, digest)
        if found is None:
            raise
        return found
    return row


def _choose_components(row: Subscriber, keys: list[str]) -> None:
    """Replace the chosen components in place: kept ones stay (re-adding a row with the same
    primary key in one flush would insert it before the old one is deleted)."""
    wanted = set(keys)
    for chosen in list(row.components):
        if chosen.component_key not in wanted:
            row.components.remove(chosen)
    present = {c.component_key for c in row.components}
    row.components.extend(SubscriberComponent(component_key=k) for k in keys if k not in present)


def _may_send(row: Subscriber, now: datetime) -> bool:
    """Count one confirmation message against the per-address cap; False when over it."""
    since = now - timedelta(hours=1)
    recent = [s for s in row.recent_sends if datetime.fromisoformat(s) > since]
    if len(recent) >= MAX_CONFIRMATIONS_PER_HOUR:
        return False
    row.recent_sends = [*recent, now.isoformat()]
    return True


def subscribe(
    session: Session,
    *,
    clock: Clock,
    settings: Settings,
    secret_key: str,
    data: SubscribeRequest,
    resolve: Resolver | None = None,
) -> SubscribeResult:
    """Start a subscription (or restart a pending or ended one) and queue its confirmation.
    Raises AddressProblem (InvalidInput) for bad input, before anything is written."""
    if data.language not in PAGE_LANGUAGES:
        raise AddressProblem(
            "language", "language_unknown", f"must be one of {', '.join(PAGE_LANGUAGES)}"
        )
    address = normalise(
        data.channel,
        data.address,
        allow_private=settings.webhook_allow_private_targets,
        resolve=resolve,
    )
    components = _check_components(session, data.components)
    decoy = new_token(32) if data.channel is SubscriberChannel.WEBHOOK else None
    result = SubscribeResult(channel=data.channel, address=address, webhook_secret=decoy)
    now = clock.now()
    row = _find_or_create(session, channel=data.channel, address=address, now=now)
    if not _may_send(row, now):
        return result  # over the per-address cap: change nothing, send nothing
    site = messages.Site.of(settings)
    unsubscribe_link = unsubscribe_url(site, secret_key, row.public_id)
    key = f"sub:{row.id}:confirm:{new_token(12)}"
    if row.status == SubscriberStatus.CONFIRMED:
        session.flush()
        if row.channel != SubscriberChannel.WEBHOOK:
            _enqueue(
                session, clock, row, key, messages.already_subscribed(site, row, unsubscribe_link)
            )
        return result
    row.status = SubscriberStatus.PENDING.value
    row.language = data.language
    row.all_components = not components
    _choose_components(row, components)
    row.updated_at = now
    row.unsubscribed_at = None
    row.code_hash = None
    row.code_attempts = 0
    if data.channel is SubscriberChannel.SMS:
        code = f"{secrets.randbelow(10**6):06d}"
        row.confirm_hash = None
        row.code_hash = _code_hash(secret_key, row.public_id, code)
        row.confirm_expires_at = now + CODE_VALID
        payload = messages.confirmation_sms(site, row.language, code)
    else:
        token = new_token(24)
        row.confirm_hash = sha256_hex(token)
        row.confirm_expires_at = now + CONFIRM_VALID
        confirm_url = f"{site.base_url}/subscribe/confirm/{token}"
        if data.channel is SubscriberChannel.WEBHOOK:
            row.secret = decoy
            names = _names(session, components)
            payload = messages.webhook_confirmation(
                site, row, names, confirm_url, unsubscribe_link, row.confirm_expires_at
            )
        else:
            names = _names(session, components)
            payload = messages.confirmation_email(site, row, names, confirm_url, unsubscribe_link)
    session.flush()
    _enqueue(session, clock, row, key, payload)
    return result


def _names(session: Session, keys: Sequence[str]) -> list[str]:
    if not keys:
        return []
    by_key = {c.key: c.name for c in incidents.list_components(session)}
    return [by_key.get(k, k) for k in keys]


def _enqueue(
    session: Session, clock: Clock, row: Subscriber, key: str, payload: dict[str, Any]
) -> None:
    outbox.enqueue(
        session,
        clock=clock,
        channel=messages.OUTBOX_CHANNEL[SubscriberChannel(row.channel)],
        recipient=row.address,
        payload=payload,
        idempotency_key=key,
        topic=TOPIC_CONFIRM,
    )


# --- confirming -------------------------------------------------------------------------


def _by_confirm_token(session: Session, token: str, now: datetime) -> Subscriber | None:
    if not token or len(token) > 100:
        return None
    query = select(Subscriber).where(Subscriber.confirm_hash == sha256_hex(token))
    if is_postgresql(session):
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if (
        row is None
        or row.status != SubscriberStatus.PENDING
        or row.confirm_expires_at is None
        or row.confirm_expires_at <= now
    ):
        return None
    return row


def _confirm_row(row: Subscriber, now: datetime) -> None:
    row.status = SubscriberStatus.CONFIRMED.value
    row.confirmed_at = now
    row.updated_at = now
    row.confirm_hash = None
    row.code_hash = None
    row.confirm_expires_at = None
    row.code_attempts = 0


def pending_for_token(session: Session, *, clock: Clock, token: str) -> SubscriptionView | None:
    """The pending subscription a confirmation link is for (None: unknown, used or expired).
    Reads only: the confirm page shows this and a button."""
    row = _by_confirm_token(session, token, clock.now())
    return _view(row) if row is not None else None


def confirm(session: Session, *, clock: Clock, token: str) -> SubscriptionView | None:
    """Confirm an e-mail or webhook subscription by its link; None when the link is unknown,
    used or expired."""
    now = clock.now()
    row = _by_confirm_token(session, token, now)
    if row is None:
        return None
    _confirm_row(row, now)
    session.flush()
    return _view(row)


def verify_code(
    session: Session, *, clock: Clock, secret_key: str, phone: str, code: str
) -> SubscriptionView | None:
    """Confirm an SMS subscription with the code sent to it; None when the number has no
    pending code, the code is wrong, or it expired. A wrong guess counts as an attempt
    (the caller must commit even then); the fifth wrong guess voids the code."""
    number = normalise_phone(phone)
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    now = clock.now()
    row = _locked(session, address_hash(SubscriberChannel.SMS, number))
    if (
        row is None
        or row.status != SubscriberStatus.PENDING
        or row.code_hash is None
        or row.confirm_expires_at is None
        or row.confirm_expires_at <= now
        or row.code_attempts >= MAX_CODE_ATTEMPTS
    ):
        return None
    row.code_attempts += 1
    if hmac.compare_digest(_code_hash(secret_key, row.public_id, code), row.code_hash):
        _confirm_row(row, now)
        session.flush()
        return _view(row)
    if row.code_attempts >= MAX_CODE_ATTEMPTS:
        row.code_hash = None
    row.updated_at = now
    session.flush()
    return None


# --- unsubscribing ----------------------------------------------------------------------


def _by_unsubscribe_token(session: Session, secret_key: str, token: str) -> Subscriber | None:
    public_id = _public_id_of(secret_key, token)
    if public_id is None:
        return None
    return session.scalars(select(Subscriber).where(Subscriber.public_id == public_id)).first()


def subscription_for_unsubscribe(
    session: Session, *, secret_key: str, token: str
) -> SubscriptionView | None:
    row = _by_unsubscribe_token(session, secret_key, token)
    return _view(row) if row is not None else None


def unsubscribe(
    session: Session, *, clock: Clock, secret_key: str, token: str
) -> SubscriptionView | None:
    """End a subscription by its unsubscribe link (idempotent); None for a link that is not
    one of ours."""
    row = _by_unsubscribe_token(session, secret_key, token)
    if row is None:
        return None
    if row.status != SubscriberStatus.UNSUBSCRIBED:
        now = clock.now()
        row.status = SubscriberStatus.UNSUBSCRIBED.value
        row.unsubscribed_at = now
        row.updated_at = now
        row.confirm_hash = None
        row.code_hash = None
        row.confirm_expires_at = None
        session.flush()
    return _view(row)


# --- counts -----------------------------------------------------------------------------


def subscriber_summary(session: Session, *, clock: Clock) -> SubscriberSummary:
    by_status = {s.value: 0 for s in SubscriberStatus}
    for status, count in session.execute(
        select(Subscriber.status, func.count()).group_by(Subscriber.status)
    ):
        by_status[str(status)] = int(count)
    confirmed = Subscriber.status == SubscriberStatus.CONFIRMED.value
    by_channel = {c.value: 0 for c in SubscriberChannel}
    for channel, count in session.execute(
        select(Subscriber.channel, func.count()).where(confirmed).group_by(Subscriber.channel)
    ):
        by_channel[str(channel)] = int(count)
    everything = session.scalar(
        select(func.count()).select_from(Subscriber).where(confirmed, Subscriber.all_components)
    )
    by_component = {
        str(key): int(count)
        for key, count in session.execute(
            select(SubscriberComponent.component_key, func.count())
            .join(Subscriber, Subscriber.id == SubscriberComponent.subscriber_id)
            .where(confirmed)
            .group_by(SubscriberComponent.component_key)
            .order_by(SubscriberComponent.component_key)
        )
    }
    week_ago = clock.now() - timedelta(days=7)
    recent = session.scalar(
        select(func.count())
        .select_from(Subscriber)
        .where(
            Subscriber.status == SubscriberStatus.UNSUBSCRIBED.value,
            Subscriber.unsubscribed_at >= week_ago,
        )
    )
    return SubscriberSummary(
        total=sum(by_status.values()),
        confirmed=by_status[SubscriberStatus.CONFIRMED.value],
        pending=by_status[SubscriberStatus.PENDING.value],
        unsubscribed=by_status[SubscriberStatus.UNSUBSCRIBED.value],
        by_channel=by_channel,
        all_components=int(everything or 0),
        by_component=by_component,
        unsubscribed_last_7_days=int(recent or 0),
    )


# --- fan-out ----------------------------------------------------------------------------


def event_handlers(context: Context) -> dict[str, list[EventHandler]]:
    """For the worker's event channel: tell subscribers about each public incident update.
    Idempotent (one outbox key per subscriber and update), so a retried event sends nothing
    twice."""

    def tell_subscribers(payload: dict[str, Any]) -> None:
        if payload.get("kind") != "public_update":
            return
        notify_update(context, ref=str(payload["ref"]), entry_id=int(payload["entry_id"]))

    tell_subscribers.__qualname__ = "statuspage.tell_subscribers"
    return {INCIDENT_CHANGED: [tell_subscribers]}

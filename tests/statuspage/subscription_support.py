"""Helpers for the subscription tests: subscribe through the service, read what was queued."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from firstword.core.clock import Clock
from firstword.core.outbox import OutboxMessage
from firstword.core.settings import Settings
from firstword.statuspage import subscriptions
from firstword.statuspage.subscription_models import Subscriber

CONFIRM_LINK = re.compile(r"https?://[^\s\"<>]+/subscribe/confirm/[A-Za-z0-9_\-]+")
UNSUBSCRIBE_LINK = re.compile(r"https?://[^\s\"<>]+/unsubscribe/[A-Za-z0-9_\-.]+")
CODE = re.compile(r"\b(\d{6})\b")


def public_resolver(*addresses: str) -> Any:
    """A getaddrinfo stand-in: every host resolves to `addresses` (no DNS in tests)."""

    def resolve(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(2, 1, 6, "", (a, port)) for a in addresses]

    return resolve


def subscribe(
    session: Session,
    clock: Clock,
    settings: Settings,
    address: str,
    *,
    channel: str = "email",
    components: list[str] | None = None,
    language: str = "en",
    secret_key: str = "test-secret-key",
    resolve: Any = None,
) -> subscriptions.SubscribeResult:
    return subscriptions.subscribe(
        session,
        clock=clock,
        settings=settings,
        secret_key=secret_key,
        data=subscriptions.SubscribeRequest(
            channel=channel, address=address, components=components or [], language=language
        ),
        resolve=resolve,
    )


def queued(session: Session, **filters: Any) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for name, value in filters.items():
        query = query.where(getattr(OutboxMessage, name) == value)
    return list(session.scalars(query))


def subscriber(session: Session, address: str) -> Subscriber:
    return session.scalars(select(Subscriber).where(Subscriber.address == address)).one()


def count_subscribers(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def confirm_token(message: OutboxMessage) -> str:
    match = CONFIRM_LINK.search(message.payload["text"])
    assert match, message.payload["text"]
    return match.group(0).rsplit("/", 1)[1]


def unsubscribe_token(message: OutboxMessage) -> str:
    header = message.payload["headers"]["List-Unsubscribe"]
    return header.strip("<>").rsplit("/", 1)[1]


def confirmed(
    session: Session, clock: Clock, settings: Settings, address: str, **kwargs: Any
) -> Subscriber:
    """A confirmed e-mail subscriber (subscribed and confirmed through the service)."""
    subscribe(session, clock, settings, address, **kwargs)
    message = queued(session, recipient=address)[-1]
    assert subscriptions.confirm(session, clock=clock, token=confirm_token(message))
    return subscriber(session, address)

"""Status-page subscriber tables. Private to the statuspage domain; other code goes through
statuspage/subscriptions.py.

What is kept is what sending needs: the normalised address (e-mail, E.164 number or webhook
URL), a SHA-256 of it for the unique lookup, the language and the components. Confirmation
tokens and SMS codes are stored only as hashes. Unsubscribe links are signed rather than
stored (see subscriptions.unsubscribe_token). A webhook's signing secret is stored as is: the
worker needs it to sign every delivery.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from firstword.core.db import Base


class SubscriberChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEBHOOK = "webhook"


class SubscriberStatus(StrEnum):
    PENDING = "pending"  # waiting for the confirmation link or code
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class Subscriber(Base):
    __tablename__ = "statuspage_subscribers"
    # Fan-out walks confirmed subscribers in id order (keyset pagination).
    __table_args__ = (Index("ix_statuspage_subscribers_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # random; in signed links
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(500))
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256("<channel>:<addr>")
    language: Mapped[str] = mapped_column(String(8))
    all_components: Mapped[bool]
    status: Mapped[str] = mapped_column(String(20))
    secret: Mapped[str | None] = mapped_column(String(100))  # webhook signing secret
    confirm_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str | None] = mapped_column(String(64))  # SMS: HMAC of the 6-digit code
    code_attempts: Mapped[int] = mapped_column(default=0)
    confirm_expires_at: Mapped[datetime | None]
    # When the last confirmation messages went out (ISO-8601), for the per-address cap.
    recent_sends: Mapped[list[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    components: Mapped[list[SubscriberComponent]] = relationship(
        cascade="all, delete-orphan", order_by="SubscriberComponent.component_key"
    )


class SubscriberComponent(Base):
    """One component a subscriber chose (none when they subscribed to everything)."""

    __tablename__ = "statuspage_subscriber_components"
    __table_args__ = (
        Index("ix_statuspage_subscriber_components_key", "component_key", "subscriber_id"),
    )

    subscriber_id: Mapped[int] = mapped_column(
        # Named here: the convention's name would pass PostgreSQL's 63-character limit.
        ForeignKey(
            "statuspage_subscribers.id",
            ondelete="CASCADE",
            name="fk_statuspage_subscriber_components_subscriber",
        ),
        primary_key=True,
    )
    component_key: Mapped[str] = mapped_column(String(100), primary_key=True)

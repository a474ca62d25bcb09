"""The channel interface: the one code plug-in point (entry-point group firstword.channels)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Any, Protocol


class Outcome(StrEnum):
    DELIVERED = "delivered"
    TRANSIENT = "transient"  # try again later (timeouts, 4xx SMTP, HTTP 5xx/429)
    PERMANENT = "permanent"  # never retry (bad address, HTTP 4xx, 5xx SMTP)


@dataclass(frozen=True)
class OutboundMessage:
    """What a channel is asked to deliver. `idempotency_key` travels with the message
    (Message-ID / Idempotency-Key header) so a receiver can drop a repeat after a crash."""

    id: int
    channel: str
    recipient: str
    payload: dict[str, Any]
    idempotency_key: str
    attempt: int


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    detail: str = ""
    provider_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def send(self, message: OutboundMessage) -> DeliveryResult: ...


def discover_channel_classes() -> dict[str, Any]:
    """Channel classes registered under the `firstword.channels` entry-point group."""
    return {ep.name: ep for ep in entry_points(group="firstword.channels")}

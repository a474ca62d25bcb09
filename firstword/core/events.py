"""Domain events, carried by the outbox so that reacting to a change is as reliable as
delivering a message: an event is written in the transaction of the change, and a worker runs
its handlers afterwards (re-render the status page, fan an update out to subscribers...).

Handlers must be idempotent: a handler that fails makes the event retry with backoff, and
every handler of the topic runs again. Handlers that queue messages do so with idempotency
keys derived from the event, so a retry queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from firstword.core import outbox
from firstword.core.channels.base import DeliveryResult, OutboundMessage, Outcome
from firstword.core.clock import Clock

EVENT_CHANNEL = "event"

EventHandler = Callable[[dict[str, Any]], None]


def publish(
    session: Session,
    *,
    clock: Clock,
    topic: str,
    key: str,
    payload: dict[str, Any],
    reference: str = "",
) -> None:
    """Record that `topic` happened (once per `key`) in the caller's transaction."""
    outbox.enqueue(
        session,
        clock=clock,
        channel=EVENT_CHANNEL,
        recipient=topic,
        payload=payload,
        idempotency_key=f"event:{topic}:{key}",
        topic=topic,
        reference=reference,
    )


class EventChannel:
    """The outbox channel that delivers events to in-process handlers by topic."""

    name = EVENT_CHANNEL

    def __init__(self, handlers: Mapping[str, Sequence[EventHandler]]) -> None:
        self.handlers = {topic: list(fns) for topic, fns in handlers.items()}

    def send(self, message: OutboundMessage) -> DeliveryResult:
        handlers = self.handlers.get(message.recipient, [])
        for handler in handlers:
            try:
                handler(dict(message.payload))
            except Exception as exc:  # noqa: BLE001 - any handler failure means "try again"
                name = getattr(handler, "__qualname__", repr(handler))
                return DeliveryResult(Outcome.TRANSIENT, f"{name}: {type(exc).__name__}: {exc}")
        return DeliveryResult(Outcome.DELIVERED, f"{len(handlers)} handler(s)")

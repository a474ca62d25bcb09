"""Wiring domain event handlers into the outbox's `event` channel.

Each domain that reacts to events exposes `event_handlers(context) -> {topic: [handler]}` in
its service module; the list below names them. A worker (and `firstword serve`'s embedded
worker) installs the channel before it starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firstword.context import Context
from firstword.core.events import EVENT_CHANNEL, EventChannel, EventHandler

HandlerProvider = Callable[[Context], dict[str, list[EventHandler]]]


def handler_providers() -> list[HandlerProvider]:
    """The domains that react to events. Imported here, not at module top, so that a worker
    process only loads what it serves."""
    providers: list[HandlerProvider] = []
    from firstword.statuspage import subscriptions

    providers.append(subscriptions.event_handlers)
    return providers


def install_event_channel(
    context: Context, providers: list[HandlerProvider] | None = None
) -> EventChannel:
    handlers: dict[str, list[EventHandler]] = {}
    for provider in handler_providers() if providers is None else providers:
        for topic, functions in provider(context).items():
            handlers.setdefault(topic, []).extend(functions)
    channel = EventChannel(handlers)
    context.channels[EVENT_CHANNEL] = channel
    return channel


def topics(channel: Any) -> list[str]:
    return sorted(getattr(channel, "handlers", {}))

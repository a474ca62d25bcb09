"""The composition root: the one place that reads settings, builds the engine and channels.

Web, CLI, workers, the demo and tests all start from `build_context`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from firstword.core.channels.base import Channel, discover_channel_classes
from firstword.core.clock import Clock, SystemClock
from firstword.core.db import make_engine, make_sessionmaker
from firstword.core.ids import new_token
from firstword.core.settings import Settings


@dataclass
class Context:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker[Session]
    clock: Clock
    secret_key: str
    channels: dict[str, Channel] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()


def _secret_key(settings: Settings) -> str:
    """The configured secret, or one generated once into the data directory (0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = new_token(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def build_channels(settings: Settings, secret_key: str) -> dict[str, Channel]:
    """Instantiate every registered channel with the settings (entry-point group
    `firstword.channels`: each class takes `(settings=..., secret_key=...)`)."""
    channels: dict[str, Channel] = {}
    for name, entry_point in discover_channel_classes().items():
        cls: Any = entry_point.load()
        channels[name] = cls(settings=settings, secret_key=secret_key)
    return channels


def build_context(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    channels: dict[str, Channel] | None = None,
) -> Context:
    settings = settings or Settings()
    engine = make_engine(settings.sqlalchemy_url)
    secret = _secret_key(settings)
    return Context(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        clock=clock or SystemClock(),
        secret_key=secret,
        channels=channels if channels is not None else build_channels(settings, secret),
    )

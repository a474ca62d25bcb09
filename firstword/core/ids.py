"""Identifiers: random tokens, idempotency keys, and gap-free per-name counters."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from firstword.core.db import Base


class Counter(Base):
    """A named, monotonically increasing counter (e.g. incident numbers per year)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[int]


def next_value(session: Session, name: str) -> int:
    """Increment and return the counter `name`, creating it at 1.

    The UPDATE takes a row lock, so concurrent transactions get distinct values.
    """
    result = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=1))
            return 1
        except IntegrityError:  # lost the race to create it: increment the winner's row
            session.execute(
                update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
            )
    return session.scalars(select(Counter.value).where(Counter.name == name)).one()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_uuid() -> str:
    return str(uuid.uuid4())


def sha256_hex(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()

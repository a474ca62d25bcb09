"""Alembic environment. Run through firstword.core.migrate (or `firstword db upgrade`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from firstword.metadata import target_metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = context.config.attributes["engine"]
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():  # pragma: no cover - we never generate SQL scripts
    raise SystemExit("offline migrations are not supported")
run_migrations_online()

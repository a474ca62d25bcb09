"""Alembic migrations are the only way the schema is created: they must match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from firstword.metadata import target_metadata


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, target_metadata)
    assert diff == [], f"models differ from migrations (regenerate or add a revision): {diff}"


def test_schema_is_at_head(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    from firstword.core.migrate import alembic_config, current_revision

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert current_revision(engine) == head

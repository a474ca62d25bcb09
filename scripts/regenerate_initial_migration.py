"""Developer tool, used before the first release only: rebuild migrations/0001 from the models.

After a release, add a new revision instead (`alembic revision --autogenerate`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from firstword.core.db import make_engine
from firstword.core.migrate import MIGRATIONS_DIR, alembic_config

for old in (MIGRATIONS_DIR / "versions").glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{Path(tmp) / 'autogen.db'}")
    command.revision(
        alembic_config(engine), message="initial schema", autogenerate=True, rev_id="0001"
    )
    engine.dispose()

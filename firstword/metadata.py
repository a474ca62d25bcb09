"""Every table's metadata, for Alembic and the models-match-migrations check.

Importing the models here (and nowhere else outside their domains) registers them on Base.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import firstword.core.audit
import firstword.core.auth.models
import firstword.core.ids
import firstword.core.outbox
import firstword.incidents.models
import firstword.statuspage.models
import firstword.statuspage.subscription_models  # noqa: F401
from firstword.core.db import Base

target_metadata: MetaData = Base.metadata

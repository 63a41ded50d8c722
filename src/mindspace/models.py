"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from mindspace.identity import activity as identity_activity
from mindspace.identity import models as identity_models
from mindspace.journal import models as journal_models
from mindspace.platform import audit, crypto, messaging, outbox
from mindspace.platform.db import Base

__all__ = [
    "Base",
    "audit",
    "crypto",
    "identity_activity",
    "identity_models",
    "journal_models",
    "messaging",
    "outbox",
]

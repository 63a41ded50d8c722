"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from mindspace.identity import activity as identity_activity
from mindspace.identity import models as identity_models
from mindspace.platform import audit, messaging, outbox
from mindspace.platform.db import Base
from mindspace.safety import models as safety_models

__all__ = [
    "Base",
    "audit",
    "identity_activity",
    "identity_models",
    "messaging",
    "outbox",
    "safety_models",
]

"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from mindspace.companion import models as companion_models
from mindspace.crisis import models as crisis_models
from mindspace.identity import activity as identity_activity
from mindspace.identity import models as identity_models
from mindspace.journal import models as journal_models
from mindspace.mood import models as mood_models
from mindspace.notifications import models as notifications_models
from mindspace.platform import audit, crypto, idempotency, messaging, outbox
from mindspace.platform.db import Base
from mindspace.reminders import models as reminders_models
from mindspace.safety import models as safety_models

__all__ = [
    "Base",
    "audit",
    "companion_models",
    "crisis_models",
    "crypto",
    "idempotency",
    "identity_activity",
    "identity_models",
    "journal_models",
    "messaging",
    "mood_models",
    "notifications_models",
    "outbox",
    "reminders_models",
    "safety_models",
]

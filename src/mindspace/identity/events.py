"""Facts identity tells the other domains (through the outbox)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from mindspace.platform.outbox import DomainEvent


class UserRegistered(DomainEvent):
    topic: ClassVar[str] = "identity.user_registered"
    user_id: uuid.UUID


class RegistrationAttempted(DomainEvent):
    """Someone tried to register with an email that already has an account: the owner is told
    by email (never the person registering, who may not be the owner)."""

    topic: ClassVar[str] = "identity.registration_attempted"
    user_id: uuid.UUID


class PrivacyOptionsChanged(DomainEvent):
    """A person changed their privacy options: each consumer stops, and undoes, whatever the
    new options no longer allow (the journal deletes its analysis when that is turned off)."""

    topic: ClassVar[str] = "identity.privacy_options_changed"
    user_id: uuid.UUID
    privacy: dict[str, bool]

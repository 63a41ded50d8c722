"""Notification and privacy preferences.

Only the cells a person set are stored; every other cell follows DEFAULT_CHANNELS. So a
category added later starts at its default for everyone, and a person who never opened their
settings has no row at all. Other domains ask `get_preferences(...)` before they notify, or
before they use a journal or a conversation in a way the privacy options govern.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity.errors import CriticalNotificationsRequired
from mindspace.identity.events import PrivacyOptionsChanged
from mindspace.identity.models import UserPreference
from mindspace.identity.schemas import (
    CRITICAL_CATEGORIES,
    NotificationCategory,
    NotificationChannel,
    Preferences,
    PreferencesUpdate,
    PrivacyOptions,
)
from mindspace.platform import outbox
from mindspace.platform.security import Principal

_C = NotificationCategory
_ON = NotificationChannel

# Marketing is opt-in (consent cannot be assumed); SMS costs money and interrupts, so it is on
# only where a missed message could hurt; in-app is on wherever it is harmless.
DEFAULT_CHANNELS: Mapping[NotificationCategory, frozenset[NotificationChannel]] = {
    _C.security: frozenset({_ON.email, _ON.push, _ON.in_app}),
    _C.crisis_followup: frozenset({_ON.email, _ON.push, _ON.sms, _ON.in_app}),
    _C.payments: frozenset({_ON.email, _ON.in_app}),
    _C.reminders: frozenset({_ON.push, _ON.in_app}),
    _C.community: frozenset({_ON.push, _ON.in_app}),
    _C.bookings: frozenset({_ON.email, _ON.push, _ON.sms, _ON.in_app}),
    _C.marketing: frozenset(),
    _C.product_updates: frozenset({_ON.in_app}),
}
PRIVACY_FIELDS = tuple(PrivacyOptions.model_fields)
StoredChannels = dict[str, dict[str, bool]]


def readable_preferences(principal: Principal) -> Select[Any]:
    return select(
        UserPreference.channels, *(getattr(UserPreference, f) for f in PRIVACY_FIELDS)
    ).where(UserPreference.owner_id == principal.user_id)


async def get_preferences(session: AsyncSession, principal: Principal) -> Preferences:
    """The acting person's preferences, defaults filled in; a person who never changed them
    gets the defaults (no row is needed)."""
    row = (await session.execute(readable_preferences(principal))).first()
    if row is None:
        return _compose({}, {})
    mapping = row._mapping
    return _compose(mapping["channels"], {f: mapping[f] for f in PRIVACY_FIELDS})


async def update_preferences(
    session: AsyncSession, principal: Principal, *, changes: PreferencesUpdate
) -> Preferences:
    """Applies a partial update. Refused, changing nothing, if it would leave a critical
    category with every channel off."""
    # Make sure the row exists, then lock it: two concurrent changes to different cells must
    # both survive, which a read-merge-write without the lock would not guarantee.
    await session.execute(
        insert(UserPreference)
        .values(owner_id=principal.user_id)
        .on_conflict_do_nothing(index_elements=[UserPreference.owner_id])
    )
    stmt = (
        select(UserPreference).where(UserPreference.owner_id == principal.user_id).with_for_update()
    )
    row = (await session.execute(stmt)).scalar_one()

    channels: StoredChannels = {k: dict(v) for k, v in row.channels.items()}
    if changes.channels is not None:
        for category, switches in changes.channels.model_dump(exclude_unset=True).items():
            channels.setdefault(category, {}).update(switches)
    before = {f: getattr(row, f) for f in PRIVACY_FIELDS}
    privacy = dict(before)
    if changes.privacy is not None:
        privacy.update(changes.privacy.model_dump(exclude_unset=True))

    result = _compose(channels, privacy, repair=False)
    silenced = [
        c.value
        for c in NotificationCategory
        if c in CRITICAL_CATEGORIES and not result.channels.of(c).any_on()
    ]
    if silenced:
        raise CriticalNotificationsRequired(silenced)

    row.channels = channels  # a new object, so the ORM sees the change
    for field, value in privacy.items():
        setattr(row, field, value)
    await session.flush()
    if privacy != before:
        outbox.publish(
            session,
            PrivacyOptionsChanged(user_id=principal.user_id, privacy=privacy),
            owner_id=principal.user_id,
        )
    return result


def _compose(
    stored: Mapping[str, Mapping[str, Any]],
    privacy: Mapping[str, Any],
    *,
    repair: bool = True,
) -> Preferences:
    matrix: dict[str, dict[str, Any]] = {}
    for category in NotificationCategory:
        # Cells of a category or channel we no longer know are ignored rather than refused:
        # a removed option must not make everyone's preferences unreadable.
        chosen = stored.get(category.value, {})
        matrix[category.value] = {
            channel.value: chosen.get(channel.value, channel in DEFAULT_CHANNELS[category])
            for channel in NotificationChannel
        }
        if repair and category in CRITICAL_CATEGORIES and not any(matrix[category].values()):
            # Writes refuse this state; should a default change ever produce it, in-app (which
            # reaches no one outside the product) is the channel that stays on.
            matrix[category][NotificationChannel.in_app.value] = True
    return Preferences.model_validate({"channels": matrix, "privacy": dict(privacy)})

"""Four weeks of demo check-ins for the demo member, so insights and charts have something to
show on a first run. Idempotent: a member who already has check-ins is left alone."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from mindspace.identity import service as identity_service
from mindspace.mood import repository
from mindspace.mood.models import MoodCheckin
from mindspace.mood.notes import seal_note
from mindspace.mood.schemas import BuiltinActivity, Emotion, Mood
from mindspace.platform import crypto
from mindspace.platform.clock import utc_now
from mindspace.platform.crypto import DataKey
from mindspace.platform.db import Database, DbScope
from mindspace.platform.ids import new_id
from mindspace.platform.security import Principal

DEMO_MEMBER_EMAIL = "member@demo.mindspace.app"  # identity's demo member (identity.seed)
DEMO_DAYS = 28
_MOOD_BY_SCORE = (
    (3, Mood.very_sad),
    (4, Mood.sad),
    (5, Mood.anxious),
    (6, Mood.neutral),
    (8, Mood.happy),
    (10, Mood.very_happy),
)


async def seed(db: Database) -> list[str]:
    async with db.session(None, scope=DbScope.system) as session:
        owner = await identity_service.find_account_id(session, email=DEMO_MEMBER_EMAIL)
    if owner is None:
        return []
    principal = Principal(user_id=owner)
    async with db.session(principal) as session:
        if not await repository.has_checkins(session, principal):
            key = await crypto.vault_for(session).data_key(session, owner)
            session.add_all(_demo_checkins(owner, key))
    return [f"  mood    {DEMO_DAYS} days of demo check-ins for {DEMO_MEMBER_EMAIL}"]


def _demo_checkins(owner: uuid.UUID, key: DataKey) -> list[MoodCheckin]:
    rng = random.Random(2026)  # noqa: S311 - demo content, not a secret
    now = utc_now().replace(minute=0, second=0, microsecond=0)
    rows = []
    for days_ago in range(DEMO_DAYS, 0, -1):
        yoga = rng.random() < 0.4
        score = max(1, min(10, round(rng.gauss(6.5 if yoga else 5.5, 1.3))))
        mood = next(m for limit, m in _MOOD_BY_SCORE if score <= limit)
        activities = [BuiltinActivity.yoga] if yoga else []
        activities += rng.sample(
            [
                BuiltinActivity.work,
                BuiltinActivity.walking,
                BuiltinActivity.friends,
                BuiltinActivity.reading,
            ],
            2,
        )
        checkin_id = new_id()
        rows.append(
            MoodCheckin(
                id=checkin_id,
                owner_id=owner,
                mood=mood.value,
                score=score,
                emotions=[Emotion.calm.value if score >= 6 else Emotion.tired.value],
                energy=max(1, min(5, score // 2)),
                sleep_hours=rng.choice((6.0, 6.5, 7.0, 7.5, 8.0)),
                activities=[a.value for a in activities],
                triggers=[] if score >= 5 else ["deadline"],
                note=seal_note(key, checkin_id, "A steadier day.") if score >= 7 else None,
                logged_at=now - timedelta(days=days_ago, hours=rng.randint(0, 10)),
            )
        )
    return rows

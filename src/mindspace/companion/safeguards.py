"""What conversations and prompt templates share around a language model: the answer to a
crisis (the safe-messaging response with the person's country's lines, an alert that humans
see, a follow-up), and the check every model reply passes before anyone sees it. One place, so
the two can never drift apart."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.companion import replies
from mindspace.crisis import service as crisis
from mindspace.crisis.schemas import Severity
from mindspace.notifications import service as notifications
from mindspace.platform import crypto
from mindspace.platform.security import Principal
from mindspace.safety import service as safety
from mindspace.safety.service import CrisisSupport, RiskLevel, Signal

# What a model must never say, whatever the person's level: the reply is withheld.
UNSAFE_IN_A_REPLY = frozenset({Signal.plan_or_method, Signal.means_question})


def vetted(text: str, person_level: RiskLevel) -> bool:
    """Whether a model's reply may be sent: no method or means, and no more risk in it than
    in what the person wrote."""
    verdict = safety.assess(text)
    unsafe = set(verdict.signals) & UNSAFE_IN_A_REPLY
    return not unsafe and verdict.level.rank <= person_level.rank


async def answer_crisis(
    session: AsyncSession,
    principal: Principal,
    support: CrisisSupport,
    *,
    signals: Iterable[Signal],
    excerpt: str,
    trigger: str,
    source_type: str,
    source_id: uuid.UUID,
    follow_up: bool,
) -> str:
    """The crisis response to show, with the alert raised (and, when `follow_up`, the
    follow-up requested) in the caller's transaction."""
    await crisis.raise_alert(
        session,
        # The excerpt is sealed with the person's own key (opened only in the audited staff view).
        key=await crypto.vault_for(session).data_key(session, principal.user_id),
        severity=Severity.high_risk,
        trigger=trigger,
        signals=[s.value for s in signals],
        excerpt=excerpt,
        source_type=source_type,
        source_id=source_id,
    )
    if follow_up:
        notifications.notify(
            session,
            user_id=principal.user_id,
            category=notifications.NotificationCategory.crisis_followup,
            kind="crisis_followup",
        )
    return replies.crisis_response(support.resources)

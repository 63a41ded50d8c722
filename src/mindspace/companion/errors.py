from __future__ import annotations

from mindspace.platform.errors import AppError, Conflict, FieldError, InvalidInput, NotFound


class ConversationNotFound(NotFound):
    type = "companion-conversation-not-found"
    title = "Conversation not found"


class UnknownPersona(InvalidInput):
    type = "companion-unknown-persona"
    title = "There is no such persona"


class PersonaNotIncluded(AppError):
    """A paid persona for someone whose plan does not include it: 402, since paying is the
    way forward (the store comes later)."""

    status = 402
    type = "companion-persona-not-included"
    title = "This persona is not part of your plan"


class ConversationEnded(Conflict):
    type = "companion-conversation-ended"
    title = "The conversation has ended"


class DailyQuotaReached(AppError):
    status = 429
    type = "companion-daily-quota"
    title = "You have reached today's messages for your plan"


class MemoryNotFound(NotFound):
    type = "companion-memory-not-found"
    title = "Memory not found"


class TemplateNotFound(NotFound):
    type = "companion-template-not-found"
    title = "There is no such template"


class TemplateNotIncluded(AppError):
    """A paid template for someone whose plan does not include it (402, like a paid persona)."""

    status = 402
    type = "companion-template-not-included"
    title = "This template is not part of your plan"


class InvalidTemplateInput(InvalidInput):
    """An input the template does not take: carries the same JSON pointer as schema validation."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.errors = [FieldError(pointer="/body/input", detail=detail, code=code)]

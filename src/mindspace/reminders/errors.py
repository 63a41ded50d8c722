from __future__ import annotations

from mindspace.platform.errors import FieldError, InvalidInput, NotFound


class ReminderNotFound(NotFound):
    type = "reminder-not-found"
    title = "Reminder not found"


class InvalidSchedule(InvalidInput):
    """The schedule parses but cannot be a reminder's (too frequent, never fires, bad RRULE)."""

    type = "invalid-schedule"
    title = "The schedule is not valid"

    def __init__(self, detail: str, *, pointer: str) -> None:
        super().__init__(detail)
        self.errors = [FieldError(pointer=pointer, detail=detail, code="invalid_schedule")]

from __future__ import annotations

from mindspace.platform.errors import Conflict, FieldError, InvalidInput, NotFound


class CheckinNotFound(NotFound):
    type = "mood-checkin-not-found"
    title = "Check-in not found"


class ActivityNotFound(NotFound):
    type = "mood-activity-not-found"
    title = "Activity not found"


class ActivityNameTaken(Conflict):
    type = "mood-activity-name-taken"
    title = "You already have an activity with that name"


class InvalidMoodInput(InvalidInput):
    """A rule that needs more than the request itself (the clock, the person's own activities);
    carries the same JSON pointers as schema validation."""

    def __init__(self, pointer: str, detail: str, code: str) -> None:
        super().__init__(detail)
        self.errors = [FieldError(pointer=pointer, detail=detail, code=code)]


class ActivityLimitReached(Conflict):
    type = "mood-activity-limit"
    title = "Your activity list is full"

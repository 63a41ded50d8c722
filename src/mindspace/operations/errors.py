from __future__ import annotations

from mindspace.platform.errors import NotFound


class FailedJobNotFound(NotFound):
    type = "failed-job-not-found"
    title = "No failed job with this id"


class StuckEventNotFound(NotFound):
    type = "stuck-event-not-found"
    title = "No stuck event with this id"

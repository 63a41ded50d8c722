from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema
from pydantic.functional_validators import BeforeValidator
from pydantic_core import PydanticCustomError

from mindspace.platform.ids import INVALID_ID_ERROR, PublicId, UserId
from mindspace.platform.schemas import InputModel, OutputModel

EventId = Annotated[uuid.UUID, PublicId("evt", "event")]


def _job_id(value: Any) -> int:
    # Procrastinate's ids are integers; anything else in a path is an unknown job (404).
    text = str(value)
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
        raise PydanticCustomError(INVALID_ID_ERROR, "Not a valid job id")
    return int(text)


JobId = Annotated[
    int,
    BeforeValidator(_job_id),
    WithJsonSchema({"type": "integer", "minimum": 1, "examples": [42]}),
]


class Job(OutputModel):
    id: int
    task_name: str = Field(description="<domain>:<task>")
    queue_name: str
    args: dict[str, Any]
    attempts: int
    status: str
    failed_at: datetime | None = Field(description="When its last attempt failed")


class StuckEvent(OutputModel):
    id: EventId
    topic: str
    owner_id: UserId | None
    payload: dict[str, Any]
    attempts: int
    last_error: str | None
    occurred_at: datetime
    next_attempt_at: datetime | None


class RetryRequest(InputModel):
    reason: str = Field(min_length=1, max_length=500, description="Kept in the audit trail")

"""RFC 9457 problem details: one error base, one renderer, and the handlers that use it.

Every error that leaves the server, whether raised by a service, by validation, by routing or by
a bug, is `application/problem+json` with the request id in `instance`. Nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mindspace.platform.ids import INVALID_ID_ERROR
from mindspace.platform.requestctx import current_request_id

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://mindspace.app/problems/"


class FieldError(BaseModel):
    pointer: str = Field(description="JSON pointer (RFC 6901) into the request, e.g. /body/email")
    detail: str
    code: str


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="urn:request:<X-Request-ID>")
    errors: list[FieldError] | None = None


class AppError(Exception):
    """Base of every expected error. Domains subclass it in their `errors.py`."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    # An error normally undoes the transaction (bad input changes nothing). A few refusals are
    # themselves facts to keep, such as a session ended because its refresh token was replayed.
    keeps_changes: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})


class NotFound(AppError):
    status = 404
    type = "not-found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    type = "conflict"
    title = "Conflict"


class Unauthenticated(AppError):
    status = 401
    type = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    type = "forbidden"
    title = "Not allowed"


class InvalidInput(AppError):
    status = 422
    type = "validation-failed"
    title = "The request is not valid"


class RateLimited(AppError):
    status = 429
    type = "rate-limited"
    title = "Too many requests"

    def __init__(self, retry_after_seconds: int) -> None:
        retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(
            f"Please wait {retry_after_seconds} s before trying again.",
            headers={"Retry-After": str(retry_after_seconds)},
        )


class ServiceUnavailable(AppError):
    status = 503
    type = "service-unavailable"
    title = "Service temporarily unavailable"


def problem_response(
    *,
    status: int,
    type_slug: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    request_id = current_request_id()
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_slug,
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if request_id:
        body["instance"] = f"urn:request:{request_id}"
    if errors:
        body["errors"] = [e.model_dump() for e in errors]
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_CONTENT_TYPE
    )


def problem_bytes(status: int, type_slug: str, title: str, detail: str | None = None) -> bytes:
    """The body alone, for pure-ASGI middleware that cannot return a Response object."""
    return bytes(
        problem_response(status=status, type_slug=type_slug, title=title, detail=detail).body
    )


def app_error_response(exc: AppError) -> Response:
    """The answer to an expected error: what the handler sends, and what an idempotent route
    keeps when the refusal itself commits (`keeps_changes`)."""
    return problem_response(
        status=exc.status,
        type_slug=exc.type,
        title=exc.title,
        detail=exc.detail,
        errors=getattr(exc, "errors", None),
        headers=exc.headers,
    )


def internal_error_response() -> Response:
    """The 500 answer: the request id and nothing else. The log has the rest."""
    return problem_response(
        status=500,
        type_slug="internal-error",
        title="Internal server error",
        detail="Something went wrong on our side. Quote the instance when you contact us.",
    )


def _pointer(loc: Iterable[int | str]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc]
    return "/" + "/".join(parts)


def _validation_problem(exc: RequestValidationError) -> Response:
    raw = exc.errors()
    # A malformed or wrong-kind id in the URL names no resource: that is a 404, not a 422.
    if raw and all(e["loc"][:1] == ("path",) and e["type"] == INVALID_ID_ERROR for e in raw):
        return problem_response(status=404, type_slug=NotFound.type, title=NotFound.title)
    errors = [
        FieldError(pointer=_pointer(e["loc"]), detail=str(e["msg"]), code=str(e["type"]))
        for e in raw
    ]
    return problem_response(
        status=422,
        type_slug=InvalidInput.type,
        title=InvalidInput.title,
        detail=f"{len(errors)} field(s) are not valid.",
        errors=errors,
    )


_SLUG_BY_STATUS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
        return app_error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # noqa: S101
        return _validation_problem(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101
        phrase = HTTPStatus(exc.status_code).phrase
        slug = _SLUG_BY_STATUS.get(exc.status_code, phrase.lower().replace(" ", "-"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
        return problem_response(
            status=exc.status_code,
            type_slug=slug,
            title=phrase,
            detail=detail,
            headers=exc.headers,
        )

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: the problems it can answer, plus the usual 422."""
    out: dict[int | str, dict[str, Any]] = {
        422: {
            "model": Problem,
            "description": InvalidInput.title,
            "content": {PROBLEM_CONTENT_TYPE: {}},
        },
    }
    for err in errors:
        entry = out.setdefault(
            err.status,
            {"model": Problem, "description": err.title, "content": {PROBLEM_CONTENT_TYPE: {}}},
        )
        if err.title not in entry["description"]:
            entry["description"] += f"; {err.title}"
    return out

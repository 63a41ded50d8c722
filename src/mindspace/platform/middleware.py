"""Pure-ASGI middleware: request ids, security headers, access logs, metrics, the 500 answer and
the body size limit.

Pure ASGI rather than `BaseHTTPMiddleware`: the latter adds a task and a memory stream per
request, which costs more than the whole of this file does.
"""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from ulid import ULID

from mindspace.platform import metrics
from mindspace.platform.errors import PROBLEM_CONTENT_TYPE, internal_error_response, problem_bytes
from mindspace.platform.requestctx import reset_request_id, set_request_id

access_log = logging.getLogger("mindspace.access")
error_log = logging.getLogger("mindspace.errors")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{8,64}$")

# API responses hold private data: never cache them, never frame them, never sniff them.
_API_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]
# The interactive docs load Swagger UI's script and style; everything else stays locked.
_DOCS_SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (name, value)
    for name, value in _API_SECURITY_HEADERS
    if name not in (b"content-security-policy", b"cache-control")
]
_HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")
_DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or str(ULID())
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        extra_headers = list(
            _DOCS_SECURITY_HEADERS if scope["path"] in _DOCS_PATHS else _API_SECURITY_HEADERS
        )
        if self.hsts:
            extra_headers.append(_HSTS)
        extra_headers.append((b"x-request-id", request_id.encode()))

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra_headers if h[0] not in present)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            error_log.exception(
                "unhandled error", extra={"method": scope["method"], "path": scope["path"]}
            )
            if response_started:
                raise  # too late for a clean answer; the server closes the connection
            await internal_error_response()(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            template = _route_template(scope)
            metrics.observe_request(scope["method"], template, status, elapsed)
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            reset_request_id(token)


def _route_template(scope: Scope) -> str:
    """The matched route's path template for metric labels: never the raw path, or every id
    would start a new series."""
    # FastAPI's included routers record the full template (prefixes included) here; their
    # scope["route"] is the route as declared, without the prefixes of the routers above it.
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    for matched in (context, scope.get("route")):
        template = getattr(matched, "path_format", None)
        if isinstance(template, str) and template:
            return template
    if scope.get("endpoint") is not None and not scope.get("path_params"):
        return str(scope["path"])  # a plain route without parameters is its own template
    return "<unmatched>"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413, by Content-Length up front or while streaming.
    A few paths (uploads) may have a larger limit of their own, set by exact path."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, per_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.per_path.get(scope["path"], self.default_max_bytes)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = max_bytes + 1
                if declared > max_bytes:
                    await self._refuse(send, max_bytes)
                    return
                break

        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    too_large = True
                    raise _BodyTooLargeError
            return message

        response_started = False
        replaced = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started, replaced
            if replaced:
                return  # the rest of the answer we replaced
            if too_large and not response_started:
                # The app caught our signal and answered something else (FastAPI turns any
                # failure to read a body into a 400): the client gets the 413 instead.
                response_started = replaced = True
                await self._refuse(send, max_bytes)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLargeError:
            if not response_started:
                await self._refuse(send, max_bytes)
        except Exception:
            # A handler that swallowed our signal and failed differently: still a 413 to the client.
            if too_large and not response_started:
                await self._refuse(send, max_bytes)
                return
            raise

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        body = problem_bytes(
            413,
            "payload-too-large",
            "Payload too large",
            f"The request body is larger than {max_bytes} bytes.",
        )
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLargeError(Exception):
    pass

"""Every error that leaves the server is RFC 9457 problem+json carrying the request id, and every
response carries the request id and the security headers."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from fastapi import FastAPI

from mindspace.app import create_app
from mindspace.platform.config import Settings
from mindspace.platform.ids import encode
from mindspace.platform.logging import JsonFormatter
from tests.conftest import Person, assert_problem

pytestmark = pytest.mark.asyncio

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "errors"}
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"


def _pointers(body: dict[str, object]) -> dict[str, str]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return {e["pointer"]: e["code"] for e in errors}


# 404 and 405


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/nothing-here"), 404, "not-found")
    assert set(body) <= PROBLEM_KEYS


async def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.delete("/health/live")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]

    response = await client.put(ME, headers=user.headers, json={"display_name": "X"})
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]
    assert "PUT" not in response.headers["allow"]


# 413


async def test_a_body_declared_over_the_limit_is_a_413_problem(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    payload = b'{"email": "a@example.org", "password": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await client.post(
        LOGIN, content=payload, headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 413, "payload-too-large")
    assert str(settings.max_body_bytes) in body["detail"]


async def test_a_streamed_body_over_the_limit_is_a_413_problem(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    chunk = b"x" * 8192

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a@example.org", "password": "'
        for _ in range(settings.max_body_bytes // len(chunk) + 2):
            yield chunk
        yield b'"}'

    response = await client.post(
        LOGIN, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


async def test_a_body_just_under_the_limit_reaches_validation(
    client: httpx.AsyncClient, settings: Settings, user: Person
) -> None:
    bio = "x" * (settings.max_body_bytes - 100)
    response = await client.patch(ME, headers=user.headers, json={"bio": bio})
    body = assert_problem(response, 422, "validation-failed")  # too long a bio, not too large
    assert [e["pointer"] for e in body["errors"]] == ["/body/bio"]


# 422


async def test_validation_errors_point_into_the_request(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, json={"email": "not an email", "password": "x"})
    body = assert_problem(response, 422, "validation-failed")
    assert "/body/email" in _pointers(body)
    for error in body["errors"]:
        assert error["detail"]


async def test_a_missing_field_is_pointed_at(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post(LOGIN, json={"email": "a@example.org"}), 422)
    assert _pointers(body) == {"/body/password": "missing"}


async def test_an_unknown_field_is_refused(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.patch(ME, headers=user.headers, json={"roles": ["admin"]})
    body = assert_problem(response, 422, "validation-failed")
    assert _pointers(body) == {"/body/roles": "extra_forbidden"}
    me = await client.get(ME, headers=user.headers)
    assert me.json()["roles"] == ["member"]


async def test_a_value_of_the_wrong_type_is_refused(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.patch(
        ME, headers=user.headers, json={"day_boundary_hour": "early", "bio": 42}
    )
    body = assert_problem(response, 422, "validation-failed")
    pointers = _pointers(body)
    assert pointers.keys() == {"/body/day_boundary_hour", "/body/bio"}
    assert pointers["/body/bio"] == "string_type"


async def test_a_query_parameter_error_points_at_the_query(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.get("/api/v1/auth/sessions?limit=many", headers=user.headers)
    body = assert_problem(response, 422, "validation-failed")
    assert list(_pointers(body)) == ["/query/limit"]


async def test_malformed_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        LOGIN, content=b'{"email": "a@example.org", ', headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422, "validation-failed")
    assert {code for code in _pointers(body).values()} == {"json_invalid"}
    assert all(p.startswith("/body") for p in _pointers(body))


# 429


async def test_too_many_sign_in_attempts_are_a_429_problem_with_retry_after(
    client: httpx.AsyncClient, user: Person
) -> None:
    # A different account each time: this is the per-IP limit (each account has its own, lower).
    for i in range(20):
        wrong = {"email": f"{i}-{user.email}", "password": "not the password"}
        response = await client.post(LOGIN, json=wrong)
        assert_problem(response, 401)
    response = await client.post(LOGIN, json=wrong)
    body = assert_problem(response, 429, "rate-limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert str(retry_after) in body["detail"]
    # The right password does not get through either until the window passes.
    right = {"email": user.email, "password": user.password}
    assert_problem(await client.post(LOGIN, json=right), 429, "rate-limited")


# 500


async def test_an_unhandled_error_is_a_500_problem_that_leaks_nothing(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    broken: FastAPI = create_app(settings)
    secret = "password=hunter2 at /srv/internal/module.py"

    @broken.get("/boom")
    async def boom() -> None:
        raise RuntimeError(secret)

    caplog.handler.setFormatter(JsonFormatter())
    transport = httpx.ASGITransport(app=broken, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        with caplog.at_level(logging.ERROR, logger="mindspace.errors"):
            response = await client.get("/boom", headers={"X-Request-ID": "trace-500-test"})

    body = assert_problem(response, 500, "internal-error")
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert body["instance"] == "urn:request:trace-500-test"
    for leak in ("hunter2", "RuntimeError", "Traceback", "/srv/internal", ".py"):
        assert leak not in response.text
    assert response.headers["x-request-id"] == "trace-500-test"

    lines = [orjson.loads(line) for line in caplog.text.splitlines() if line.startswith("{")]
    errors = [line for line in lines if line["logger"] == "mindspace.errors"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "trace-500-test"
    assert errors[0]["path"] == "/boom"
    assert "RuntimeError" in errors[0]["exc"]  # the log, not the client, gets the details


# 401 and ids in paths


async def test_no_token_is_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].lower().startswith("bearer")


async def test_a_bad_token_is_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers={"Authorization": "Bearer not.a.token"})
    assert_problem(response, 401)


@pytest.mark.parametrize(
    "raw_id",
    [
        "not-an-id",
        "usr_01JD8X4V2Q7RS3T5VWXYZ01234",  # a well-formed id of another kind
        "ses_" + "0" * 25,  # one character short
        "ses_" + "U" * 26,  # outside the ULID alphabet
    ],
)
async def test_a_malformed_or_wrong_kind_id_in_a_path_is_a_404(
    client: httpx.AsyncClient, user: Person, raw_id: str
) -> None:
    response = await client.delete(f"/api/v1/auth/sessions/{raw_id}", headers=user.headers)
    body = assert_problem(response, 404, "not-found")
    assert "errors" not in body


async def test_another_persons_session_id_is_a_404(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    assert other_user.principal.session_id is not None
    theirs = encode("ses", other_user.principal.session_id)
    response = await client.delete(f"/api/v1/auth/sessions/{theirs}", headers=user.headers)
    assert_problem(response, 404)
    assert (await client.get(ME, headers=other_user.headers)).status_code == 200


# Request ids and security headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/health/live"), ("GET", ME), ("GET", "/nope"), ("DELETE", "/health/live")],
)
async def test_every_response_carries_a_fresh_request_id(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    first = await client.request(method, path)
    second = await client.request(method, path)
    assert ULID_RE.match(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_safe_incoming_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get(ME, headers={"X-Request-ID": "lb-7f3a.9c_21-x"})
    assert response.headers["x-request-id"] == "lb-7f3a.9c_21-x"
    assert response.json()["instance"] == "urn:request:lb-7f3a.9c_21-x"


@pytest.mark.parametrize(
    "unsafe",
    ["has spaces in it", "a" * 200, "short", "line\\nbreak-injected", "<script>alert</script>"],
)
async def test_an_unsafe_incoming_request_id_is_replaced(
    client: httpx.AsyncClient, unsafe: str
) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": unsafe})
    assert response.headers["x-request-id"] != unsafe
    assert ULID_RE.match(response.headers["x-request-id"])


@pytest.mark.parametrize("path", ["/health/live", ME, "/api/v1/does-not-exist"])
async def test_api_responses_carry_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers  # only in production


async def test_authenticated_responses_are_never_cached(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.get(ME, headers=user.headers)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_413_still_carries_the_request_id_and_security_headers(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        LOGIN,
        content=b"x" * (settings.max_body_bytes + 1),
        headers={"Content-Type": "application/json", "X-Request-ID": "big-body-0001"},
    )
    assert_problem(response, 413)
    assert response.headers["x-request-id"] == "big-body-0001"
    assert response.headers["x-frame-options"] == "DENY"

"""GET /api/v1/safety/resources: public crisis lines by country."""

from __future__ import annotations

import httpx
import pytest

from mindspace.platform.db import Database
from mindspace.safety.resources import countries, crisis_resources
from tests.conftest import Person, assert_problem

URL = "/api/v1/safety/resources"
pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("country", "name", "number"),
    [
        ("US", "988 Suicide & Crisis Lifeline", "988"),
        ("GB", "Samaritans", "116 123"),
        ("IN", "Tele-MANAS", "14416"),
        ("ES", "Línea 024", "024"),
        ("MX", "Línea de la Vida", "800 911 2000"),
        ("CA", "9-8-8: Suicide Crisis Helpline", "988"),
        ("AU", "Lifeline", "13 11 14"),
    ],
)
async def test_a_country_gets_its_lines_without_signing_in(
    client: httpx.AsyncClient, country: str, name: str, number: str
) -> None:
    response = await client.get(URL, params={"country": country})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["country"] == country
    assert body["fallback"] is False
    first = body["resources"][0]
    assert (first["name"], first["phone"]) == (name, number)
    # The international directory is always there as a last resort.
    assert body["resources"][-1]["url"] == "https://findahelpline.com"
    assert response.headers["cache-control"].startswith("public")


async def test_text_lines_say_what_to_send(client: httpx.AsyncClient) -> None:
    body = (await client.get(URL, params={"country": "gb"})).json()
    shout = next(r for r in body["resources"] if r["name"] == "Shout")
    assert (shout["sms"], shout["sms_keyword"]) == ("85258", "SHOUT")
    us = (await client.get(URL, params={"country": "us"})).json()
    assert us["resources"][0]["sms"] == "988"


@pytest.mark.parametrize("params", [{"country": "ZZ"}, {"country": "fr"}, {}])
async def test_an_unknown_or_missing_country_gets_the_directory(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(URL, params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["fallback"] is True
    assert body["country"] is None
    assert body["resources"][0]["url"] == "https://findahelpline.com"


@pytest.mark.parametrize("country", ["USA", "U", "1A", "u$", "", "GB "])
async def test_a_malformed_country_code_is_a_422(client: httpx.AsyncClient, country: str) -> None:
    response = await client.get(URL, params={"country": country})
    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"][0]["pointer"] == "/query/country"


async def test_a_token_is_not_needed_but_does_no_harm(
    client: httpx.AsyncClient, db: Database, user: Person
) -> None:
    response = await client.get(URL, params={"country": "IN"}, headers=user.headers)
    assert response.status_code == 200


@pytest.mark.parametrize("code", countries())
async def test_every_country_has_a_line_to_call_and_an_emergency_number(code: str) -> None:
    entry = crisis_resources(code)
    assert entry.emergency
    assert any(r.phone for r in entry.resources), code

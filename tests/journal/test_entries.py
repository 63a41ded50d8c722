"""Journal entries over HTTP: each route's happy path, no token, another person's entry, bad
input (which changes nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mindspace.journal.schemas import BODY_MAX_CHARS
from tests.conftest import Person, assert_problem
from tests.journal.conftest import ENTRIES, write_entry

pytestmark = pytest.mark.asyncio
MISSING = "jrn_01JD8X4V2Q0000000000000000"


async def _get(client: httpx.AsyncClient, person: Person, entry_id: str) -> httpx.Response:
    return await client.get(f"{ENTRIES}/{entry_id}", headers=person.headers)


async def _list(client: httpx.AsyncClient, person: Person, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(ENTRIES, params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- create -------------------------------------------------------------------------------


async def test_create_returns_the_entry_sanitized_and_it_reads_back(
    client: httpx.AsyncClient, user: Person
) -> None:
    written = datetime(2026, 3, 1, 21, 30, tzinfo=UTC)
    created = await write_entry(
        client,
        user,
        title="Hard evening",
        body='<p onclick="x()">I <strong>miss</strong> them<script>alert(1)</script></p>',
        mood="very_sad",
        tags=["grief", "Family", "family"],
        prompt_id="grief-01",
        written_at=written.isoformat(),
    )
    assert created["id"].startswith("jrn_")
    assert created["body"] == "<p>I <strong>miss</strong> them</p>"
    assert created["tags"] == ["grief", "Family"]  # one per normalised form, first spelling kept
    assert created["mood"] == "very_sad"
    assert created["prompt_id"] == "grief-01"
    assert datetime.fromisoformat(created["written_at"]) == written
    assert (await _get(client, user, created["id"])).json() == created


async def test_written_at_defaults_to_now(client: httpx.AsyncClient, user: Person) -> None:
    created = await write_entry(client, user)
    written = datetime.fromisoformat(created["written_at"])
    assert abs(written - datetime.now(UTC)) < timedelta(minutes=1)
    assert created["mood"] is None
    assert created["tags"] == []
    assert created["prompt_id"] is None


async def test_create_needs_a_token(client: httpx.AsyncClient, db: object) -> None:
    response = await client.post(ENTRIES, json={"title": "x"})
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"title": "x", "mood": "ecstatic"}, "validation-failed"),
        ({"title": "x", "tags": ["a"] * 21}, "validation-failed"),
        ({"title": "x", "tags": [""]}, "validation-failed"),
        ({"title": "x", "tags": ["t" * 41]}, "validation-failed"),
        ({"title": "t" * 201}, "validation-failed"),
        ({"title": "x", "body": "b" * (BODY_MAX_CHARS + 1)}, "validation-failed"),
        ({"title": "x", "written_at": "2026-01-01T10:00:00"}, "validation-failed"),  # no zone
        ({"title": "x", "owner_id": "usr_01JD8X4V2Q0000000000000000"}, "validation-failed"),
        ({"title": "", "body": "<p> </p><script>x</script>"}, "journal-empty-entry"),
        ({"title": "x", "prompt_id": "gratitude-99"}, "journal-unknown-prompt"),
        ({"title": "x", "prompt_id": "jpr_01JD8X4V2Q0000000000000000"}, "journal-unknown-prompt"),
        ({"title": "x", "prompt_id": "not a prompt"}, "validation-failed"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, user: Person, body: dict[str, Any], problem: str
) -> None:
    response = await client.post(ENTRIES, json=body, headers=user.headers)
    assert_problem(response, 422, problem)
    assert await _list(client, user) == []


async def test_an_entry_dated_in_the_future_is_refused(
    client: httpx.AsyncClient, user: Person
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await client.post(
        ENTRIES, json={"title": "x", "written_at": tomorrow}, headers=user.headers
    )
    assert_problem(response, 422, "journal-written-in-future")
    assert await _list(client, user) == []


async def test_a_body_over_the_request_limit_is_413(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await client.post(
        ENTRIES, json={"title": "x", "body": "b" * 70_000}, headers=user.headers
    )
    assert_problem(response, 413)
    assert await _list(client, user) == []


async def test_another_persons_custom_prompt_cannot_be_named(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = await client.post(
        "/api/v1/journal/custom-prompts", json={"text": "Mine"}, headers=other_user.headers
    )
    response = await client.post(
        ENTRIES, json={"title": "x", "prompt_id": theirs.json()["id"]}, headers=user.headers
    )
    assert_problem(response, 422, "journal-unknown-prompt")


# --- read ---------------------------------------------------------------------------------


async def test_get_needs_a_token(client: httpx.AsyncClient, user: Person) -> None:
    created = await write_entry(client, user)
    assert_problem(await client.get(f"{ENTRIES}/{created['id']}"), 401)


async def test_another_persons_entry_is_404(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = await write_entry(client, other_user)
    assert_problem(await _get(client, user, theirs["id"]), 404, "journal-entry-not-found")
    assert_problem(await _get(client, user, MISSING), 404)
    assert_problem(await _get(client, user, "usr_01JD8X4V2Q0000000000000000"), 404)
    assert await _list(client, user) == []


# --- list, filters, search, pages ---------------------------------------------------------


async def _diary(client: httpx.AsyncClient, person: Person) -> dict[str, dict[str, Any]]:
    base = datetime(2026, 5, 1, 9, tzinfo=UTC)
    specs = {
        "walk": ("A long walk", "<p>The park was quiet and I felt calm.</p>", "happy", ["outside"]),
        "work": ("Work again", "<p>Deadlines. Café meeting ran late.</p>", "anxious", ["Work"]),
        "call": ("Called mum", "<p>We talked about the park.</p>", "happy", ["family", "work"]),
        "rain": ("", "<p>Rain all day.</p>", "sad", []),
    }
    made = {}
    for n, (name, (title, body, mood, tags)) in enumerate(specs.items()):
        made[name] = await write_entry(
            client,
            person,
            title=title,
            body=body,
            mood=mood,
            tags=tags,
            written_at=(base + timedelta(days=n)).isoformat(),
            prompt_id="gratitude-02" if name == "call" else None,
        )
    return made


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


async def test_the_list_is_newest_written_first_and_filters_combine(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    made = await _diary(client, user)
    await _diary(client, other_user)
    ids = {name: e["id"] for name, e in made.items()}

    assert _ids(await _list(client, user)) == [ids["rain"], ids["call"], ids["work"], ids["walk"]]
    assert _ids(await _list(client, user, mood="happy")) == [ids["call"], ids["walk"]]
    assert _ids(await _list(client, user, tag="WORK")) == [ids["call"], ids["work"]]
    assert _ids(await _list(client, user, tag="work", mood="anxious")) == [ids["work"]]
    assert _ids(await _list(client, user, prompt_id="gratitude-02")) == [ids["call"]]
    window = {"from": "2026-05-02T00:00:00Z", "to": "2026-05-04T00:00:00Z"}
    assert _ids(await _list(client, user, **window)) == [ids["call"], ids["work"]]
    assert await _list(client, user, tag="nothing-like-this") == []


async def test_search_finds_whole_words_in_titles_and_bodies_of_my_entries_only(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    made = await _diary(client, user)
    await _diary(client, other_user)
    ids = {name: e["id"] for name, e in made.items()}

    assert _ids(await _list(client, user, q="park")) == [ids["call"], ids["walk"]]
    assert _ids(await _list(client, user, q="PARK quiet")) == [ids["walk"]]  # every word
    assert _ids(await _list(client, user, q="cafe")) == [ids["work"]]  # accents folded
    assert _ids(await _list(client, user, q="mum")) == [ids["call"]]  # the title counts
    assert _ids(await _list(client, user, q="park", mood="happy", tag="family")) == [ids["call"]]
    assert await _list(client, user, q="par") == []  # whole words only
    assert await _list(client, user, q="strong") == []  # markup is not text


async def test_search_follows_edits(client: httpx.AsyncClient, user: Person) -> None:
    entry = await write_entry(client, user, body="<p>apples</p>")
    await client.patch(
        f"{ENTRIES}/{entry['id']}", json={"body": "<p>pears</p>"}, headers=user.headers
    )
    assert await _list(client, user, q="apples") == []
    assert _ids(await _list(client, user, q="pears")) == [entry["id"]]


async def test_pages_follow_the_cursor_without_gaps(
    client: httpx.AsyncClient, user: Person
) -> None:
    made = await _diary(client, user)
    seen: list[str] = []
    cursor = None
    for _ in range(len(made)):  # bounded: a cursor that never advances must fail, not hang
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(ENTRIES, params=params, headers=user.headers)
        body = response.json()
        seen += _ids(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert sorted(seen) == sorted(e["id"] for e in made.values())
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "params",
    [
        {"mood": "ecstatic"},
        {"from": "yesterday"},
        {"from": "2026-01-01T00:00:00"},
        {"limit": 0},
        {"limit": 101},
        {"cursor": "not-a-cursor"},
        {"q": "!!!"},
        {"q": ""},
        {"prompt_id": "nope"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, user: Person, params: dict[str, Any]
) -> None:
    assert_problem(await client.get(ENTRIES, params=params, headers=user.headers), 422)


async def test_list_needs_a_token(client: httpx.AsyncClient, db: object) -> None:
    assert_problem(await client.get(ENTRIES), 401)


# --- update -------------------------------------------------------------------------------


async def test_update_changes_only_what_is_sent(client: httpx.AsyncClient, user: Person) -> None:
    entry = await write_entry(client, user, mood="sad", tags=["a"], prompt_id="values-01")
    response = await client.patch(
        f"{ENTRIES}/{entry['id']}",
        json={"title": "New title", "mood": None, "body": "<p>x<img src=y></p>"},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated.pop("crisis") is None
    assert updated["title"] == "New title"
    assert updated["body"] == "<p>x</p>"
    assert updated["mood"] is None
    assert updated["tags"] == ["a"]
    assert updated["prompt_id"] == "values-01"
    assert updated["created_at"] == entry["created_at"]
    assert updated["updated_at"] > entry["updated_at"]
    assert (await _get(client, user, entry["id"])).json() == updated


async def test_update_needs_a_token(client: httpx.AsyncClient, user: Person) -> None:
    entry = await write_entry(client, user)
    assert_problem(await client.patch(f"{ENTRIES}/{entry['id']}", json={"title": "x"}), 401)


async def test_another_persons_entry_cannot_be_updated(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = await write_entry(client, other_user)
    response = await client.patch(
        f"{ENTRIES}/{theirs['id']}", json={"title": "mine now"}, headers=user.headers
    )
    assert_problem(response, 404, "journal-entry-not-found")
    assert (await _get(client, other_user, theirs["id"])).json() == theirs


@pytest.mark.parametrize(
    "changes",
    [
        {"mood": "ecstatic"},
        {"title": "t" * 201},
        {"tags": ["x"] * 21},
        {"title": "", "body": ""},
        {"prompt_id": "gratitude-99"},
        {"written_at": "2999-01-01T00:00:00Z"},
        {"colour": "blue"},
    ],
)
async def test_bad_updates_change_nothing(
    client: httpx.AsyncClient, user: Person, changes: dict[str, Any]
) -> None:
    entry = await write_entry(client, user)
    response = await client.patch(f"{ENTRIES}/{entry['id']}", json=changes, headers=user.headers)
    assert_problem(response, 422)
    assert (await _get(client, user, entry["id"])).json() == entry


# --- delete -------------------------------------------------------------------------------


async def test_delete_removes_the_entry(client: httpx.AsyncClient, user: Person) -> None:
    entry = await write_entry(client, user)
    response = await client.delete(f"{ENTRIES}/{entry['id']}", headers=user.headers)
    assert response.status_code == 204
    assert_problem(await _get(client, user, entry["id"]), 404)
    again = await client.delete(f"{ENTRIES}/{entry['id']}", headers=user.headers)
    assert_problem(again, 404)


async def test_delete_needs_a_token(client: httpx.AsyncClient, user: Person) -> None:
    entry = await write_entry(client, user)
    assert_problem(await client.delete(f"{ENTRIES}/{entry['id']}"), 401)
    assert (await _get(client, user, entry["id"])).status_code == 200


async def test_another_persons_entry_cannot_be_deleted(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    theirs = await write_entry(client, other_user)
    assert_problem(await client.delete(f"{ENTRIES}/{theirs['id']}", headers=user.headers), 404)
    assert (await _get(client, other_user, theirs["id"])).status_code == 200

"""The staff surface: only admins and supers get in; every act is audited; suspension takes
effect at once; nobody grants a role above their own rank."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select

from mindspace.identity.activity import AccountActivity
from mindspace.identity.models import UserAccount
from mindspace.identity.tokens import TokenService
from mindspace.platform import ids
from mindspace.platform.audit import AuditRecord, admin_session
from mindspace.platform.db import Database
from mindspace.platform.ids import new_id
from mindspace.platform.security import Role
from tests.conftest import Person, assert_problem, create_user
from tests.identity.conftest import sign_in_device

pytestmark = pytest.mark.asyncio

ADMIN = "/api/v1/admin"
ME = "/api/v1/users/me"
LOGIN = "/api/v1/auth/login"
STAFF_AGENT = {"User-Agent": "StaffConsole/2.0"}

# Every admin route, with a body it would accept. "{id}" is filled with a real account's id.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/users", None),
    ("GET", "/users/{id}", None),
    ("POST", "/users/{id}/suspend", {"reason": "spam"}),
    ("POST", "/users/{id}/restore", None),
    ("POST", "/users/{id}/roles", {"roles": ["expert"]}),
    ("GET", "/audit", None),
]


def usr(person_id: uuid.UUID) -> str:
    return ids.encode("usr", person_id)


def pointers(problem: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in problem["errors"]}


async def call(
    client: httpx.AsyncClient,
    route: tuple[str, str, dict[str, Any] | None],
    target: uuid.UUID,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    method, path, body = route
    url = ADMIN + path.replace("{id}", usr(target))
    return await client.request(method, url, json=body, headers=headers)


async def audit_trail(db: Database, staff: Person, target: uuid.UUID) -> list[AuditRecord]:
    """The trail about `target`, oldest first, read the only way staff can: audited."""
    async with admin_session(db, staff.principal, action="test.inspect_trail") as session:
        rows = await session.execute(
            select(AuditRecord).where(AuditRecord.target_id == target).order_by(AuditRecord.id)
        )
        return list(rows.scalars())


async def activity_kinds(db: Database, person: Person) -> list[str]:
    async with db.session(person.principal) as session:
        rows = await session.execute(
            select(AccountActivity.kind)
            .where(AccountActivity.owner_id == person.id)
            .order_by(AccountActivity.occurred_at)
        )
        return list(rows.scalars())


async def account(db: Database, staff: Person, person_id: uuid.UUID) -> UserAccount:
    async with admin_session(db, staff.principal, action="test.inspect_account") as session:
        found = await session.get(UserAccount, person_id)
    assert found is not None
    return found


async def log_in(client: httpx.AsyncClient, person: Person) -> httpx.Response:
    return await client.post(LOGIN, json={"email": person.email, "password": person.password})


@pytest_asyncio.fixture
async def super_user(db: Database, app: FastAPI) -> Person:
    return await create_user(db, app.state.tokens, roles=(Role.member, Role.super))


@pytest_asyncio.fixture
async def expert(db: Database, app: FastAPI) -> Person:
    return await create_user(db, app.state.tokens, roles=(Role.member, Role.expert))


# --- who gets in ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
async def test_every_admin_route_needs_a_sign_in(
    client: httpx.AsyncClient, user: Person, route: tuple[str, str, dict[str, Any] | None]
) -> None:
    assert_problem(await call(client, route, user.id), 401)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.parametrize("role", [Role.member, Role.expert])
async def test_every_admin_route_refuses_members_and_experts(
    db: Database,
    client: httpx.AsyncClient,
    tokens: TokenService,
    other_user: Person,
    admin: Person,
    route: tuple[str, str, dict[str, Any] | None],
    role: Role,
) -> None:
    caller = await create_user(db, tokens, roles=(Role.member, role))
    response = await call(client, route, other_user.id, headers=caller.headers)
    assert_problem(response, 403, "forbidden")
    target = await account(db, admin, other_user.id)
    assert (target.status, target.roles) == ("active", ["member"])


async def test_a_super_gets_in_too(client: httpx.AsyncClient, super_user: Person) -> None:
    response = await client.get(f"{ADMIN}/users", headers=super_user.headers)
    assert response.status_code == 200, response.text


# --- finding and inspecting accounts ----------------------------------------------------------


async def test_listing_users_pages_newest_first_and_is_audited(
    db: Database, client: httpx.AsyncClient, admin: Person, user: Person, other_user: Person
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(4):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{ADMIN}/users", headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(usr(p.id) for p in (admin, user, other_user))
    assert seen == sorted(seen, reverse=True)  # ULIDs are time-ordered: newest first

    async with admin_session(db, admin.principal, action="test.look") as session:
        actions = (
            await session.execute(
                select(AuditRecord.action, AuditRecord.actor_id, AuditRecord.user_agent).where(
                    AuditRecord.action == "user.list"
                )
            )
        ).all()
    assert len(actions) == 2
    assert all(actor == admin.id for _, actor, _ in actions)


async def test_listing_users_filters_by_prefix_status_and_role(
    db: Database, client: httpx.AsyncClient, tokens: TokenService, admin: Person, expert: Person
) -> None:
    noor = await create_user(db, tokens, email="noor.k@example.org", display_name="Noor")
    await create_user(db, tokens, email="sam@example.org", display_name="Noori Sam")
    gone = await create_user(db, tokens, email="gone@example.org", status="suspended")

    async def ids_for(**params: Any) -> set[str]:
        response = await client.get(f"{ADMIN}/users", headers=admin.headers, params=params)
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    by_email = await ids_for(q="NOOR.")
    assert by_email == {usr(noor.id)}
    assert len(await ids_for(q="noor")) == 2  # the email of one, the display name of another
    assert await ids_for(q="%") == set()  # wildcards are literal
    assert await ids_for(q="_") == set()
    assert await ids_for(status="suspended") == {usr(gone.id)}
    assert await ids_for(role="expert") == {usr(expert.id)}
    assert await ids_for(role="admin") == {usr(admin.id)}
    assert await ids_for(role="super", q="noor") == set()


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"role": "root"}, "/query/role"),
        ({"status": "NOT A STATUS"}, "/query/status"),
        ({"q": ""}, "/query/q"),
        ({"limit": 0}, "/query/limit"),
    ],
)
async def test_listing_users_refuses_bad_filters(
    client: httpx.AsyncClient, admin: Person, params: dict[str, Any], pointer: str
) -> None:
    response = await client.get(f"{ADMIN}/users", headers=admin.headers, params=params)
    assert pointers(assert_problem(response, 422)) == {pointer}


async def test_inspecting_a_user_shows_staff_fields_and_is_audited(
    db: Database, client: httpx.AsyncClient, admin: Person, user: Person
) -> None:
    response = await client.get(f"{ADMIN}/users/{usr(user.id)}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == usr(user.id)
    assert body["email"] == user.email
    assert body["status"] == "active"
    assert body["roles"] == ["member"]
    assert body["email_verified"] is False
    assert body["suspended_at"] is None
    [record] = await audit_trail(db, admin, user.id)
    assert (record.action, record.actor_id, record.target_type) == ("user.view", admin.id, "user")


@pytest.mark.parametrize("bad_id", ["nobody", "ses_01JD8X4V2Q0000000000000000", None])
async def test_an_unknown_or_malformed_user_id_is_not_found(
    client: httpx.AsyncClient, admin: Person, bad_id: str | None
) -> None:
    target = bad_id or usr(new_id())
    for method, path, body in ROUTES:
        if "{id}" in path:
            url = ADMIN + path.replace("{id}", target)
            response = await client.request(method, url, json=body, headers=admin.headers)
            assert_problem(response, 404)


# --- suspension -------------------------------------------------------------------------------


async def test_suspension_ends_access_at_once_and_restore_lets_them_back(
    db: Database, client: httpx.AsyncClient, tokens: TokenService, admin: Person, user: Person
) -> None:
    device = await sign_in_device(db, tokens, user)
    assert (await client.get(ME, headers=user.headers)).status_code == 200

    response = await client.post(
        f"{ADMIN}/users/{usr(user.id)}/suspend",
        json={"reason": "Harassment reports"},
        headers={**admin.headers, **STAFF_AGENT},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "suspended"
    assert body["suspension_reason"] == "Harassment reports"
    assert body["suspended_at"]

    # Every session, not only one: the access tokens stop now, not in 15 minutes.
    assert_problem(await client.get(ME, headers=user.headers), 401, "invalid-token")
    assert_problem(await client.get(ME, headers=device.headers), 401, "invalid-token")
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": device.refresh_token}
    )
    assert_problem(refresh, 401)
    assert_problem(await log_in(client, user), 401, "account-unavailable")

    [suspended] = await audit_trail(db, admin, user.id)
    assert suspended.action == "user.suspend"
    assert suspended.actor_id == admin.id
    assert suspended.target_type == "user"
    assert suspended.details == {"reason": "Harassment reports"}
    assert suspended.user_agent == "StaffConsole/2.0"
    assert suspended.ip is not None
    assert suspended.occurred_at is not None

    response = await client.post(
        f"{ADMIN}/users/{usr(user.id)}/restore", headers={**admin.headers, **STAFF_AGENT}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert response.json()["suspension_reason"] is None
    assert (await log_in(client, user)).status_code == 200

    actions = [(r.action, r.actor_id) for r in await audit_trail(db, admin, user.id)]
    assert actions == [("user.suspend", admin.id), ("user.restore", admin.id)]
    assert await activity_kinds(db, user) == ["suspended", "restored", "signed_in"]


async def test_suspending_twice_changes_nothing_more(
    db: Database, client: httpx.AsyncClient, admin: Person, user: Person
) -> None:
    url = f"{ADMIN}/users/{usr(user.id)}/suspend"
    assert (await client.post(url, json={"reason": "first"}, headers=admin.headers)).is_success
    again = await client.post(url, json={"reason": "second"}, headers=admin.headers)
    assert again.status_code == 200, again.text
    assert again.json()["suspension_reason"] == "first"
    assert await activity_kinds(db, user) == ["suspended"]


async def test_restoring_an_active_account_changes_nothing(
    db: Database, client: httpx.AsyncClient, admin: Person, user: Person
) -> None:
    response = await client.post(f"{ADMIN}/users/{usr(user.id)}/restore", headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"
    assert await activity_kinds(db, user) == []


@pytest.mark.parametrize("action", ["suspend", "restore"])
async def test_an_admin_cannot_suspend_or_restore_themselves_supers_or_admins(
    db: Database,
    client: httpx.AsyncClient,
    tokens: TokenService,
    admin: Person,
    super_user: Person,
    action: str,
) -> None:
    other_admin = await create_user(db, tokens, roles=(Role.member, Role.admin))
    for target in (admin, super_user, other_admin):
        response = await client.post(
            f"{ADMIN}/users/{usr(target.id)}/{action}",
            json={"reason": "no"} if action == "suspend" else None,
            headers=admin.headers,
        )
        assert_problem(response, 403, "staff-action-refused")
        assert (await account(db, super_user, target.id)).status == "active"
        # The refused attempt stays on the record.
        trail = [(r.action, r.actor_id) for r in await audit_trail(db, super_user, target.id)]
        assert trail[:2] == [(f"user.{action}", admin.id), (f"user.{action}.refused", admin.id)]
    assert (await client.get(ME, headers=super_user.headers)).status_code == 200


async def test_a_super_can_suspend_an_admin_but_not_themselves(
    db: Database, client: httpx.AsyncClient, admin: Person, super_user: Person
) -> None:
    response = await client.post(
        f"{ADMIN}/users/{usr(admin.id)}/suspend",
        json={"reason": "rogue"},
        headers=super_user.headers,
    )
    assert response.status_code == 200, response.text
    assert_problem(await client.get(f"{ADMIN}/users", headers=admin.headers), 401)

    response = await client.post(
        f"{ADMIN}/users/{usr(super_user.id)}/suspend",
        json={"reason": "oops"},
        headers=super_user.headers,
    )
    assert_problem(response, 403, "staff-action-refused")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({}, "/body/reason"),
        ({"reason": ""}, "/body/reason"),
        ({"reason": "   "}, "/body/reason"),
        ({"reason": "x" * 501}, "/body/reason"),
        ({"reason": "spam", "status": "active"}, "/body/status"),
    ],
)
async def test_suspension_refuses_bad_input(
    db: Database,
    client: httpx.AsyncClient,
    admin: Person,
    user: Person,
    body: dict[str, Any],
    pointer: str,
) -> None:
    response = await client.post(
        f"{ADMIN}/users/{usr(user.id)}/suspend", json=body, headers=admin.headers
    )
    assert pointers(assert_problem(response, 422)) == {pointer}
    assert (await account(db, admin, user.id)).status == "active"


# --- roles ------------------------------------------------------------------------------------


async def test_an_admin_grants_and_revokes_expert(
    db: Database, client: httpx.AsyncClient, admin: Person, user: Person
) -> None:
    url = f"{ADMIN}/users/{usr(user.id)}/roles"
    response = await client.post(url, json={"roles": ["expert"]}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["expert", "member"]
    # A grant does not sign anyone out; it shows in the next token.
    assert (await client.get(ME, headers=user.headers)).status_code == 200

    response = await client.post(url, json={"roles": ["member"]}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["member"]
    # A removal must not wait for the old token (which still says expert) to expire.
    assert_problem(await client.get(ME, headers=user.headers), 401, "invalid-token")

    trail = [(r.action, r.details) for r in await audit_trail(db, admin, user.id)]
    assert trail == [
        ("user.roles.set", {"roles": ["expert", "member"]}),
        ("user.roles.changed", {"added": ["expert"], "removed": []}),
        ("user.roles.set", {"roles": ["member"]}),
        ("user.roles.changed", {"added": [], "removed": ["expert"]}),
    ]
    assert await activity_kinds(db, user) == ["roles_changed", "roles_changed"]


@pytest.mark.parametrize("roles", [["admin"], ["super"], ["expert", "admin"]])
async def test_only_a_super_grants_staff_roles(
    db: Database,
    client: httpx.AsyncClient,
    admin: Person,
    super_user: Person,
    user: Person,
    roles: list[str],
) -> None:
    url = f"{ADMIN}/users/{usr(user.id)}/roles"
    refused = await client.post(url, json={"roles": roles}, headers=admin.headers)
    assert_problem(refused, 403, "staff-action-refused")
    assert (await account(db, admin, user.id)).roles == ["member"]
    trail = [r.action for r in await audit_trail(db, admin, user.id)]
    assert trail == ["user.roles.set", "user.roles.set.refused"]

    granted = await client.post(url, json={"roles": roles}, headers=super_user.headers)
    assert granted.status_code == 200, granted.text
    assert set(granted.json()["roles"]) == {"member", *roles}


async def test_only_a_super_revokes_admin_and_it_takes_effect_at_once(
    db: Database, client: httpx.AsyncClient, tokens: TokenService, super_user: Person
) -> None:
    first = await create_user(db, tokens, roles=(Role.member, Role.admin))
    second = await create_user(db, tokens, roles=(Role.member, Role.admin))
    url = f"{ADMIN}/users/{usr(second.id)}/roles"

    refused = await client.post(url, json={"roles": []}, headers=first.headers)
    assert_problem(refused, 403, "staff-action-refused")
    # ... but expert is an admin's to give, even to another admin.
    expert = await client.post(url, json={"roles": ["admin", "expert"]}, headers=first.headers)
    assert expert.status_code == 200, expert.text

    demoted = await client.post(url, json={"roles": []}, headers=super_user.headers)
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["roles"] == ["member"]
    assert_problem(await client.get(f"{ADMIN}/users", headers=second.headers), 401)


async def test_staff_cannot_change_their_own_roles(
    client: httpx.AsyncClient, super_user: Person
) -> None:
    response = await client.post(
        f"{ADMIN}/users/{usr(super_user.id)}/roles",
        json={"roles": ["super", "expert"]},
        headers=super_user.headers,
    )
    assert_problem(response, 403, "staff-action-refused")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"roles": ["root"]}, "/body/roles/0"),
        ({"roles": ["expert", "Admin"]}, "/body/roles/1"),
        ({"roles": "expert"}, "/body/roles"),
        ({"roles": ["expert"] * 5}, "/body/roles"),
        ({}, "/body/roles"),
        ({"roles": [], "status": "active"}, "/body/status"),
    ],
)
async def test_role_changes_refuse_bad_input(
    db: Database,
    client: httpx.AsyncClient,
    admin: Person,
    user: Person,
    body: dict[str, Any],
    pointer: str,
) -> None:
    response = await client.post(
        f"{ADMIN}/users/{usr(user.id)}/roles", json=body, headers=admin.headers
    )
    assert pointers(assert_problem(response, 422)) == {pointer}
    assert await audit_trail(db, admin, user.id) == []


# --- the audit trail --------------------------------------------------------------------------


async def test_staff_read_the_audit_trail_with_filters(
    client: httpx.AsyncClient, admin: Person, super_user: Person, user: Person, other_user: Person
) -> None:
    await client.post(
        f"{ADMIN}/users/{usr(user.id)}/suspend", json={"reason": "spam"}, headers=admin.headers
    )
    await client.post(
        f"{ADMIN}/users/{usr(other_user.id)}/suspend",
        json={"reason": "abuse"},
        headers=super_user.headers,
    )

    response = await client.get(
        f"{ADMIN}/audit",
        headers=admin.headers,
        params={"target_type": "user", "target_id": usr(user.id)},
    )
    assert response.status_code == 200, response.text
    [record] = response.json()["items"]
    assert record["id"].startswith("aud_")
    assert record["action"] == "user.suspend"
    assert record["actor_id"] == usr(admin.id)
    assert record["target_type"] == "user"
    assert record["target_id"] == usr(user.id)
    assert record["details"] == {"reason": "spam"}
    assert record["occurred_at"]

    by_actor = await client.get(
        f"{ADMIN}/audit",
        headers=admin.headers,
        params={"actor": usr(super_user.id), "action": "user.suspend"},
    )
    assert [r["target_id"] for r in by_actor.json()["items"]] == [usr(other_user.id)]

    # A raw UUID names the same target.
    raw = await client.get(
        f"{ADMIN}/audit", headers=admin.headers, params={"target_id": str(other_user.id)}
    )
    assert [r["details"] for r in raw.json()["items"]] == [{"reason": "abuse"}]

    # Reading the trail is itself on the trail, newest first.
    everything = await client.get(f"{ADMIN}/audit", headers=admin.headers, params={"limit": 1})
    body = everything.json()
    assert body["items"][0]["action"] == "audit.list"
    assert body["next_cursor"]
    second_page = await client.get(
        f"{ADMIN}/audit", headers=admin.headers, params={"limit": 1, "cursor": body["next_cursor"]}
    )
    assert second_page.json()["items"][0]["id"] < body["items"][0]["id"]


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"actor": "someone"}, "/query/actor"),
        ({"actor": "ses_01JD8X4V2Q0000000000000000"}, "/query/actor"),
        ({"target_id": "usr_nope"}, "/query/target_id"),
        ({"target_id": "not-a-uuid"}, "/query/target_id"),
        ({"target_type": "User Account!"}, "/query/target_type"),
        ({"action": ""}, "/query/action"),
    ],
)
async def test_the_audit_trail_refuses_bad_filters(
    client: httpx.AsyncClient, admin: Person, params: dict[str, Any], pointer: str
) -> None:
    response = await client.get(f"{ADMIN}/audit", headers=admin.headers, params=params)
    assert pointers(assert_problem(response, 422)) == {pointer}

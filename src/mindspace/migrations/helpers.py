"""What every migration needs; kept tiny and stable, since old migrations import it too."""

from __future__ import annotations

from alembic import op

from mindspace.platform.db import DbScope, owner_policy_sql

# Identity's tables are also read by sign-in, before anyone is authenticated.
IDENTITY_SCOPES = (DbScope.admin, DbScope.system, DbScope.auth)


def app_role() -> str:
    """The API's database role, as `mindspace migrate` was told (default mindspace_app)."""
    config = op.get_context().config
    role = str((config.attributes.get("app_role") if config else None) or "mindspace_app")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"unsafe role name {role!r}")
    return role


def apply_owner_rls(
    table: str,
    *,
    column: str = "owner_id",
    scopes: tuple[DbScope, ...] = (DbScope.admin, DbScope.system),
    privileges: str = "SELECT, INSERT, UPDATE, DELETE",
) -> None:
    for statement in owner_policy_sql(
        table, app_role(), column=column, scopes=scopes, privileges=privileges
    ):
        op.execute(statement)

"""Identity's HTTP surface: one router per capability, gathered here."""

from fastapi import APIRouter

from mindspace.identity.api import (
    accounts,
    admin,
    avatar,
    data_rights,
    email_flows,
    oidc,
    phone,
    preferences,
    profiles,
    two_factor,
)

router = APIRouter()
router.include_router(accounts.router)
router.include_router(data_rights.router)
router.include_router(email_flows.router)
router.include_router(admin.router)
router.include_router(two_factor.router)
router.include_router(preferences.router)
router.include_router(avatar.router)
router.include_router(phone.router)
router.include_router(oidc.router)
# Last: its /users/{usr_id} would shadow any single-segment /users/... route after it.
router.include_router(profiles.router)
well_known = accounts.well_known

__all__ = ["router", "well_known"]

"""Identity's HTTP surface: one router per capability, gathered here."""

from fastapi import APIRouter

from mindspace.identity.api import accounts

router = APIRouter()
router.include_router(accounts.router)
well_known = accounts.well_known

__all__ = ["router", "well_known"]

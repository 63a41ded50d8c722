from __future__ import annotations

from fastapi import APIRouter

from mindspace.notifications import jobs
from mindspace.notifications.api import admin_router
from mindspace.notifications.api import router as inbox_router
from mindspace.notifications.seed import seed
from mindspace.notifications.service import export_notifications
from mindspace.platform.domains import Domain

router = APIRouter()
router.include_router(inbox_router)
router.include_router(admin_router)

domain = Domain(
    name=jobs.NAMESPACE,
    router=router,
    seed=seed,
    export=export_notifications,
    jobs=jobs.blueprint,
    subscribe=jobs.subscribe,
)

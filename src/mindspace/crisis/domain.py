from __future__ import annotations

from mindspace.crisis import jobs, service
from mindspace.crisis.api import router
from mindspace.platform.domains import Domain

domain = Domain(
    name="crisis",
    router=router,
    export=service.export_crisis,
    jobs=jobs.blueprint,
    subscribe=jobs.subscribe,
)

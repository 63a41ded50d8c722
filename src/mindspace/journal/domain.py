from __future__ import annotations

from mindspace.journal import jobs
from mindspace.journal.api import router
from mindspace.journal.service import export_journal
from mindspace.platform.domains import Domain

domain = Domain(
    name="journal",
    router=router,
    export=export_journal,
    jobs=jobs.blueprint,
    subscribe=jobs.subscribe,
)

from __future__ import annotations

from mindspace.operations import jobs
from mindspace.operations.api import router
from mindspace.platform.domains import Domain

domain = Domain(name="operations", router=router, jobs=jobs.blueprint)

from __future__ import annotations

from mindspace.identity.api import router
from mindspace.identity.seed import seed
from mindspace.platform.domains import Domain

domain = Domain(name="identity", router=router, seed=seed)

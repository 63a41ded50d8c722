from __future__ import annotations

from mindspace.platform.domains import Domain
from mindspace.safety.api import router

domain = Domain(name="safety", router=router)

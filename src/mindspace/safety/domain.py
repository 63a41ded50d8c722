from __future__ import annotations

from mindspace.platform.domains import Domain
from mindspace.safety.api import router
from mindspace.safety.service import export_safety

domain = Domain(name="safety", router=router, export=export_safety)

from __future__ import annotations

from mindspace.mood.api import router
from mindspace.mood.seed import seed
from mindspace.mood.service import export_mood
from mindspace.platform.domains import Domain

domain = Domain(name="mood", router=router, seed=seed, export=export_mood)

from __future__ import annotations

from mindspace.platform.domains import Domain
from mindspace.reminders import jobs
from mindspace.reminders.api import router
from mindspace.reminders.service import export_reminders

domain = Domain(name="reminders", router=router, export=export_reminders, jobs=jobs.blueprint)

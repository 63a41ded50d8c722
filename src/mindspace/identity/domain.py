from __future__ import annotations

from mindspace.identity import jobs
from mindspace.identity.api import router
from mindspace.identity.seed import seed
from mindspace.identity.service.avatar import AVATAR_MAX_BYTES
from mindspace.identity.service.exports import export_identity
from mindspace.platform.domains import Domain

domain = Domain(
    name="identity",
    router=router,
    seed=seed,
    export=export_identity,
    jobs=jobs.blueprint,
    subscribe=jobs.subscribe,
    # The avatar's own limit, plus room for the multipart envelope.
    body_limits={"/users/me/avatar": AVATAR_MAX_BYTES + 64 * 1024},
)

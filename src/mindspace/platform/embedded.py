"""An embedded PostgreSQL (the `pgserver` wheel) for a machine with no database configured.

For a laptop or a demo only: production refuses to start without DATABASE_URL.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
DATABASE_NAME = "mindspace"


def start(data_dir: Path) -> tuple[str, Any]:
    """Starts (or reuses) the server under `data_dir/pg`; returns the owner URL and the handle,
    which must stay referenced for as long as the database is needed."""
    import pgserver  # imported lazily: a configured deployment never needs it

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    get_server = pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(str(pgdata), cleanup_mode="stop")
    # pgserver speaks over a unix socket in the data folder, as superuser `postgres`.
    url = f"postgresql://postgres@/{DATABASE_NAME}?host={pgdata}"
    log.info("embedded PostgreSQL ready", extra={"pgdata": str(pgdata)})
    return url, server

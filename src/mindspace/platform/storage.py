"""File storage (avatars, audio, invoices) behind one small interface.

Keys are built by the code that stores the file, from ids it made (`avatars/<user>/<id>.webp`),
never from anything a client sent, such as a file name. `LocalStorage` still refuses any key
that could step outside its folder, so a bug upstream cannot become a path traversal.

Only the local folder exists today; an S3-compatible adapter is to come, tested against a real
S3-compatible server when it does.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

# Lowercase segments of letters, digits, `-` and `_`, the last one may carry `.ext` suffixes:
# nothing that means anything special to a file system or a URL.
_KEY = re.compile(
    r"^(?:[a-z0-9][a-z0-9_-]{0,127}/){0,7}[a-z0-9][a-z0-9_-]{0,127}(?:\.[a-z0-9]{1,8})*$"
)
MAX_KEY_LENGTH = 512


class InvalidStorageKey(ValueError):
    """The key is not one this storage accepts (it could escape the storage root)."""


class StoredObjectNotFound(LookupError):
    """Nothing is stored under the key."""


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Stores `data` under `key`, replacing what was there; readers see all or nothing."""

    async def get(self, key: str) -> bytes:
        """The bytes under `key`; raises StoredObjectNotFound."""

    async def delete(self, key: str) -> None:
        """Removes `key`; removing what is not there is not an error."""

    def url(self, key: str) -> str | None:
        """Where a client can fetch the object directly, or None when it must be served
        through the API (which is then where access rules are enforced)."""


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidStorageKey(f"not a valid storage key: {key[:80]!r}")
    return key


class LocalStorage:
    """A folder on the local disk: the default for a laptop or a single machine.

    `base_url`, when given, is where something else (a web server, a CDN) serves the folder;
    without it, files are served only through the API."""

    def __init__(self, root: Path, *, base_url: str | None = None) -> None:
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/") if base_url else None

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # The pattern already excludes `..` and absolute keys; this also catches a symlink
        # inside the folder that points out of it.
        if not path.is_relative_to(self.root):
            raise InvalidStorageKey(f"not a valid storage key: {key[:80]!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        # The type is not kept: local files are served by code that knows what it stored.
        await asyncio.to_thread(self._write, self.path(key), data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except (FileNotFoundError, NotADirectoryError):
            raise StoredObjectNotFound(key) from None

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)

    def url(self, key: str) -> str | None:
        check_key(key)
        return f"{self.base_url}/{key}" if self.base_url else None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file, and a crash leaves no torn one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

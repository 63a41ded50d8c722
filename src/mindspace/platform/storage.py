"""File storage (avatars, audio, invoices) behind one small interface.

Keys are built by the code that stores the file, from ids it made (`avatars/<user>/<id>.webp`),
never from anything a client sent, such as a file name. `LocalStorage` still refuses any key
that could step outside its folder, so a bug upstream cannot become a path traversal.

`LocalStorage` is the default; `S3Storage` is any S3-compatible bucket (AWS, MinIO, R2, Ceph),
chosen when a bucket is configured.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
else:
    S3Client = Any

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

    async def aclose(self) -> None:
        """Releases connections; the storage is not used afterwards."""


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

    async def aclose(self) -> None:
        pass  # nothing held open

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


class S3Storage:
    """An S3-compatible bucket. Objects stay private: without `public_base_url` they are served
    through the API, where access rules are enforced. One client per process, opened on first
    use and closed by `aclose`."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_base_url: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self._client_options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
        }
        self._stack = AsyncExitStack()
        self._client: S3Client | None = None
        self._opening = asyncio.Lock()

    async def _s3(self) -> S3Client:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    from aiobotocore.config import AioConfig
                    from aiobotocore.session import get_session

                    config = AioConfig(
                        retries={"max_attempts": 3, "mode": "standard"},
                        connect_timeout=5,
                        read_timeout=30,
                    )
                    self._client = await self._stack.enter_async_context(
                        get_session().create_client("s3", config=config, **self._client_options)
                    )
        return self._client

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        s3 = await self._s3()
        # S3 replaces an object atomically: readers see the old bytes or the new, never half.
        await s3.put_object(
            Bucket=self.bucket, Key=check_key(key), Body=data, ContentType=content_type
        )

    async def get(self, key: str) -> bytes:
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=check_key(key))
        except s3.exceptions.NoSuchKey:
            raise StoredObjectNotFound(key) from None
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, key: str) -> None:
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=check_key(key))

    def url(self, key: str) -> str | None:
        check_key(key)
        return f"{self.public_base_url}/{key}" if self.public_base_url else None

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._client = None

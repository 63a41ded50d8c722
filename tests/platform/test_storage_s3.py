"""The S3-compatible storage against a real S3 protocol server (moto's, on a local port): the
same contract as the local folder, and the composition root choosing it when configured."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from mindspace.app import build_storage
from mindspace.platform.config import Settings
from mindspace.platform.storage import InvalidStorageKey, S3Storage, StoredObjectNotFound
from tests.conftest import free_port

pytestmark = pytest.mark.asyncio
KEY = "avatars/0a1b/c2d3-512.webp"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _settings(endpoint: str, bucket: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        storage_s3_bucket=bucket,
        storage_s3_endpoint_url=endpoint,
        storage_s3_region="eu-west-1",
        storage_s3_access_key_id="test-key",
        storage_s3_secret_access_key=SecretStr("test-secret"),
    )


@pytest_asyncio.fixture
async def storage(s3_endpoint: str, tmp_path: Path) -> AsyncIterator[S3Storage]:
    bucket = f"mindspace-{uuid.uuid4().hex[:12]}"
    built = build_storage(_settings(s3_endpoint, bucket, tmp_path))
    assert isinstance(built, S3Storage)
    s3 = await built._s3()
    await s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield built
    await built.aclose()


async def test_put_get_replace_delete(storage: S3Storage) -> None:
    await storage.put(KEY, b"first", "image/webp")
    await storage.put(KEY, b"second", "image/webp")
    assert await storage.get(KEY) == b"second"
    s3 = await storage._s3()
    head = await s3.head_object(Bucket=storage.bucket, Key=KEY)
    assert head["ContentType"] == "image/webp"

    await storage.delete(KEY)
    await storage.delete(KEY)  # deleting twice is fine
    with pytest.raises(StoredObjectNotFound):
        await storage.get(KEY)


async def test_objects_are_private_unless_a_public_url_is_configured(
    storage: S3Storage, s3_endpoint: str, tmp_path: Path
) -> None:
    assert storage.url(KEY) is None
    public = S3Storage(bucket="b", public_base_url="https://cdn.example.org/")
    assert public.url(KEY) == f"https://cdn.example.org/{KEY}"


@pytest.mark.parametrize("key", ["../outside", "/etc/passwd", "A/b", "a//b", ".hidden"])
async def test_keys_outside_the_pattern_are_refused_before_any_request(
    storage: S3Storage, key: str
) -> None:
    for call in (storage.get(key), storage.delete(key), storage.put(key, b"x", "text/plain")):
        with pytest.raises(InvalidStorageKey):
            await call


async def test_a_missing_bucket_is_an_error_not_a_silent_loss(
    s3_endpoint: str, tmp_path: Path
) -> None:
    storage = build_storage(_settings(s3_endpoint, "no-such-bucket-here", tmp_path))
    try:
        with pytest.raises(Exception, match="NoSuchBucket"):
            await storage.put(KEY, b"x", "image/webp")
    finally:
        await storage.aclose()


async def test_without_a_bucket_files_stay_in_the_data_folder(tmp_path: Path) -> None:
    storage = build_storage(Settings(data_dir=tmp_path))
    await storage.put(KEY, b"local", "image/webp")
    assert (tmp_path / "media" / KEY).read_bytes() == b"local"
    await storage.aclose()

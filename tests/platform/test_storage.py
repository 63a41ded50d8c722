"""The local file storage: round trips, and keys that could leave the storage folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mindspace.platform.storage import (
    InvalidStorageKey,
    LocalStorage,
    Storage,
    StoredObjectNotFound,
)

pytestmark = pytest.mark.asyncio


async def test_put_get_delete(tmp_path: Path) -> None:
    storage: Storage = LocalStorage(tmp_path / "media")
    await storage.put("avatars/0a1b/c2d3-512.webp", b"first", "image/webp")
    await storage.put("avatars/0a1b/c2d3-512.webp", b"second", "image/webp")
    assert await storage.get("avatars/0a1b/c2d3-512.webp") == b"second"
    assert (tmp_path / "media" / "avatars" / "0a1b" / "c2d3-512.webp").read_bytes() == b"second"
    assert not [p for p in (tmp_path / "media" / "avatars" / "0a1b").iterdir() if p.name[0] == "."]

    await storage.delete("avatars/0a1b/c2d3-512.webp")
    await storage.delete("avatars/0a1b/c2d3-512.webp")  # deleting twice is fine
    with pytest.raises(StoredObjectNotFound):
        await storage.get("avatars/0a1b/c2d3-512.webp")


async def test_urls_only_when_the_folder_is_served(tmp_path: Path) -> None:
    assert LocalStorage(tmp_path).url("a/b.webp") is None
    served = LocalStorage(tmp_path, base_url="https://media.example.org/")
    assert served.url("a/b.webp") == "https://media.example.org/a/b.webp"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "..",
        "../outside",
        "a/../../outside",
        "a/./b",
        "/etc/passwd",
        "a//b",
        "a/b/",
        "a\\..\\b",
        "A/b",
        "a b",
        "a/\x00b",
        "%2e%2e/x",
        "~/x",
        ".hidden",
        "a/..",
        "a/" + "b" * 600,
    ],
)
async def test_keys_that_could_escape_are_refused(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "media")
    with pytest.raises(InvalidStorageKey):
        await storage.put(key, b"x", "text/plain")
    with pytest.raises(InvalidStorageKey):
        await storage.get(key)
    with pytest.raises(InvalidStorageKey):
        await storage.delete(key)
    assert not (tmp_path / "outside").exists()


async def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "media"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (root / "link").symlink_to(outside, target_is_directory=True)
    storage = LocalStorage(root)
    with pytest.raises(InvalidStorageKey):
        await storage.get("link/secret")
    with pytest.raises(InvalidStorageKey):
        await storage.put("link/planted", b"x", "text/plain")
    assert not (outside / "planted").exists()

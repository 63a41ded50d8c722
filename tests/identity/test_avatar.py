"""Avatars: sniffed from the bytes, bounded, re-encoded without metadata, served by visibility."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import ExifTags, Image, ImageCms

from mindspace.identity import service
from mindspace.identity.tokens import TokenService
from mindspace.platform import ids
from mindspace.platform.config import Settings
from mindspace.platform.db import Database
from tests.conftest import Person, assert_problem, create_user

pytestmark = pytest.mark.asyncio

ME_AVATAR = "/api/v1/users/me/avatar"
GPS_LATITUDE = (51.0, 30.0, 12.0)


def avatar_of(person: Person) -> str:
    return f"/api/v1/users/{ids.encode('usr', person.id)}/avatar"


def png(size: tuple[int, int] = (300, 200), mode: str = "RGB", **save: Any) -> bytes:
    out = io.BytesIO()
    colour = (0, 128, 128, 100) if mode == "RGBA" else (0, 128, 128)  # half transparent
    Image.new(mode, size, colour).save(out, "PNG", **save)
    return out.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (800, 600), *, orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Test camera"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: GPS_LATITUDE,
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (0.0, 7.0, 39.0),
        }
    )
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif, comment=b"at home")
    data = out.getvalue()
    # The fixture really carries what must be stripped.
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims any size: what a decompression bomb looks like."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


async def upload(
    client: httpx.AsyncClient,
    person: Person,
    data: bytes,
    *,
    filename: str = "me.png",
    content_type: str = "image/png",
) -> httpx.Response:
    return await client.post(
        ME_AVATAR, headers=person.headers, files={"file": (filename, data, content_type)}
    )


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def media_files(app: FastAPI, person: Person) -> set[Path]:
    """The person's stored files (the media folder lives as long as the test session)."""
    return files_under(app.state.settings.data_dir / "media" / "avatars" / person.id.hex)


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# --- upload ---------------------------------------------------------------------------------


async def test_upload_a_png_then_fetch_it_resized(
    client: httpx.AsyncClient, user: Person, app: FastAPI
) -> None:
    response = await upload(client, user, png((1024, 512)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (512, 256)
    assert body["content_type"] == "image/webp"
    assert body["url"].startswith(avatar_of(user) + "?v=")
    assert body["thumbnail_url"] == body["url"] + "&size=thumb"

    me = (await client.get("/api/v1/users/me", headers=user.headers)).json()
    assert me["avatar_url"] == body["url"]

    for url in (ME_AVATAR, body["url"]):
        full = await client.get(url, headers=user.headers)
        assert full.status_code == 200, full.text
        assert full.headers["content-type"] == "image/webp"
        assert (opened(full.content).format, opened(full.content).size) == ("WEBP", (512, 256))

    thumb = await client.get(body["thumbnail_url"], headers=user.headers)
    assert thumb.status_code == 200
    assert opened(thumb.content).size == (128, 64)
    assert len(media_files(app, user)) == 2


async def test_small_images_are_not_enlarged_and_transparency_survives(
    client: httpx.AsyncClient, user: Person
) -> None:
    response = await upload(client, user, png((100, 80), mode="RGBA"))
    assert response.status_code == 200, response.text
    assert (response.json()["width"], response.json()["height"]) == (100, 80)
    stored = opened((await client.get(ME_AVATAR, headers=user.headers)).content)
    assert stored.mode == "RGBA"


async def test_metadata_is_stripped_and_orientation_applied(
    client: httpx.AsyncClient, user: Person, app: FastAPI
) -> None:
    # Orientation 6: the camera was turned; the stored picture is upright, and has no EXIF.
    response = await upload(
        client,
        user,
        jpeg_with_gps((800, 600), orientation=6),
        filename="IMG_0001.JPG",
        content_type="image/jpeg",
    )
    assert response.status_code == 200, response.text
    assert (response.json()["width"], response.json()["height"]) == (384, 512)

    files = media_files(app, user)
    assert len(files) == 2
    for path in files:
        stored = path.read_bytes()
        image = opened(stored)
        assert image.format == "WEBP"
        assert not image.getexif()
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
        # Nothing of the upload's metadata is anywhere in the bytes.
        for marker in (b"Exif", b"Test camera", b"at home", b"GPS"):
            assert marker not in stored
        # Keys come from ids, never from the file name.
        assert "IMG" not in str(path)


async def test_colour_profiles_are_converted_then_dropped(
    client: httpx.AsyncClient, user: Person
) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    response = await upload(client, user, png((64, 64), icc_profile=srgb))
    assert response.status_code == 200, response.text
    stored = opened((await client.get(ME_AVATAR, headers=user.headers)).content)
    assert "icc_profile" not in stored.info


async def test_the_declared_type_is_ignored_in_favour_of_the_bytes(
    client: httpx.AsyncClient, user: Person
) -> None:
    # Real PNG bytes under a GIF label and name: judged by the bytes, so accepted as a PNG.
    response = await upload(client, user, png(), filename="cat.gif", content_type="image/gif")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"hello, I am plain text and not a picture", "me.png", "image/png"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "me.png",
            "image/png",
        ),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "me.jpg", "image/jpeg"),
        (b"", "me.png", "image/png"),
    ],
)
async def test_what_is_not_an_image_is_refused_whatever_the_label(
    client: httpx.AsyncClient, user: Person, data: bytes, filename: str, content_type: str
) -> None:
    response = await upload(client, user, data, filename=filename, content_type=content_type)
    assert_problem(response, 415, "unsupported-image")


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF"])
async def test_other_image_formats_are_refused(
    client: httpx.AsyncClient, user: Person, image_format: str
) -> None:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(out, image_format)
    response = await upload(client, user, out.getvalue())  # labelled image/png
    assert_problem(response, 415, "unsupported-image")


async def test_a_damaged_image_is_refused(client: httpx.AsyncClient, user: Person) -> None:
    whole = png((200, 200))
    response = await upload(client, user, whole[: len(whole) // 2])
    assert_problem(response, 422, "unreadable-image")


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8_000, 6_000),  # 48 MP: over our cap, under Pillow's own bomb warning
        (100_000, 100_000),  # Pillow's decompression-bomb error
        (1, 40_000_001),
    ],
)
async def test_too_many_pixels_are_refused_before_decoding(
    client: httpx.AsyncClient, user: Person, app: FastAPI, width: int, height: int
) -> None:
    response = await upload(client, user, png_claiming(width, height))
    assert_problem(response, 422, "image-dimensions-too-large")
    assert not media_files(app, user)


async def test_a_body_over_the_routes_limit_is_refused(
    client: httpx.AsyncClient, user: Person
) -> None:
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (service.AVATAR_MAX_BYTES + 64 * 1024)
    response = await upload(client, user, too_big)
    assert_problem(response, 413, "payload-too-large")
    assert (await client.get(ME_AVATAR, headers=user.headers)).status_code == 404


async def test_an_image_over_the_avatar_limit_is_refused(
    client: httpx.AsyncClient, user: Person
) -> None:
    # Inside the route's body allowance (which leaves room for the multipart envelope), but
    # over the avatar's own limit.
    response = await upload(client, user, b"\x89PNG\r\n\x1a\n" + b"\x00" * service.AVATAR_MAX_BYTES)
    assert_problem(response, 413, "image-too-large")


async def test_upload_needs_a_file_field(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.post(
        ME_AVATAR, headers=user.headers, files={"picture": ("me.png", png(), "image/png")}
    )
    problem = assert_problem(response, 422, "validation-failed")
    assert {e["pointer"] for e in problem["errors"]} == {"/body/file"}


async def test_avatar_routes_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(ME_AVATAR, files={"file": ("me.png", png(), "image/png")})
    assert_problem(response, 401)
    assert_problem(await client.get(ME_AVATAR), 401)
    assert_problem(await client.delete(ME_AVATAR), 401)


# --- replace and delete ---------------------------------------------------------------------


async def test_a_new_upload_replaces_the_old_files(
    client: httpx.AsyncClient, user: Person, app: FastAPI
) -> None:
    first = (await upload(client, user, png())).json()
    before = media_files(app, user)
    second = (await upload(client, user, png((64, 64)))).json()
    after = media_files(app, user)
    assert first["url"] != second["url"]
    assert len(after) == 2
    assert not before & after


async def test_delete_removes_the_avatar_and_its_files(
    client: httpx.AsyncClient, user: Person, app: FastAPI
) -> None:
    assert (await upload(client, user, png())).status_code == 200
    response = await client.delete(ME_AVATAR, headers=user.headers)
    assert response.status_code == 204
    assert not media_files(app, user)
    assert_problem(await client.get(ME_AVATAR, headers=user.headers), 404, "avatar-not-found")
    me = (await client.get("/api/v1/users/me", headers=user.headers)).json()
    assert me["avatar_url"] is None
    # Deleting when there is none is the same outcome, so it succeeds.
    assert (await client.delete(ME_AVATAR, headers=user.headers)).status_code == 204


async def test_no_avatar_yet_is_a_404(client: httpx.AsyncClient, user: Person) -> None:
    assert_problem(await client.get(ME_AVATAR, headers=user.headers), 404, "avatar-not-found")


async def test_size_must_be_full_or_thumb(client: httpx.AsyncClient, user: Person) -> None:
    response = await client.get(ME_AVATAR, headers=user.headers, params={"size": "huge"})
    problem = assert_problem(response, 422)
    assert {e["pointer"] for e in problem["errors"]} == {"/query/size"}


# --- others' avatars ------------------------------------------------------------------------


async def test_a_private_profiles_avatar_is_hidden_from_others(
    client: httpx.AsyncClient, user: Person, other_user: Person
) -> None:
    assert (await upload(client, user, png())).status_code == 200
    assert (await client.get(avatar_of(user), headers=user.headers)).status_code == 200
    for headers in (other_user.headers, {}):
        response = await client.get(avatar_of(user), headers=headers)
        assert_problem(response, 404, "avatar-not-found")


async def test_a_public_profiles_avatar_is_visible_to_anyone(
    client: httpx.AsyncClient, db: Database, tokens: TokenService, other_user: Person
) -> None:
    public = await create_user(db, tokens, profile_visibility="public")
    assert (await upload(client, public, png())).status_code == 200
    for headers in (other_user.headers, {}):
        response = await client.get(avatar_of(public), headers=headers, params={"size": "thumb"})
        assert response.status_code == 200, response.text
        assert opened(response.content).size == (128, 85)


async def test_unknown_people_and_malformed_ids_are_404(
    client: httpx.AsyncClient, user: Person
) -> None:
    nobody = f"/api/v1/users/{ids.encode('usr', ids.new_id())}/avatar"
    assert_problem(await client.get(nobody, headers=user.headers), 404, "avatar-not-found")
    assert_problem(await client.get("/api/v1/users/usr_nope/avatar"), 404)


@pytest.mark.asyncio
async def test_the_avatar_route_takes_larger_bodies_than_the_global_limit(
    client: httpx.AsyncClient, user: Person, settings: Settings
) -> None:
    # Noise does not compress: a PNG well over the test's 64 KiB global body limit.
    big = Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3))
    buffer = io.BytesIO()
    big.save(buffer, "PNG")
    data = buffer.getvalue()
    assert len(data) > settings.max_body_bytes

    uploaded = await client.post(
        "/api/v1/users/me/avatar",
        files={"file": ("me.png", data, "image/png")},
        headers=user.headers,
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    elsewhere = await client.patch(
        "/api/v1/users/me",
        content=b'{"bio": "' + b"x" * len(data) + b'"}',
        headers={**user.headers, "content-type": "application/json"},
    )
    assert_problem(elsewhere, 413)

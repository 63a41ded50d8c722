"""Avatars: uploaded, checked, re-encoded and stored; served to their owner, and to anyone when
the profile is public.

Nothing a client says about the file is trusted. Its type is what Pillow finds in the bytes
(JPEG, PNG or WebP only), its pixel count is checked from the header before anything is
decoded, and what we store is a new WebP drawn from the decoded pixels: EXIF (GPS included),
XMP, ICC profiles, comments and anything hidden after the image data are all left behind.
"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import String, Uuid, column, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from mindspace.identity.errors import (
    AvatarNotFound,
    ImageDimensionsTooLarge,
    ImageTooLarge,
    UnreadableImage,
    UnsupportedImage,
    UserNotFound,
)
from mindspace.identity.models import UserAccount
from mindspace.identity.schemas import AvatarOut, AvatarSize
from mindspace.platform.ids import new_id
from mindspace.platform.security import Principal
from mindspace.platform.storage import Storage, StoredObjectNotFound

log = logging.getLogger(__name__)

# The upload limit. The app's body limit (MINDSPACE_MAX_BODY_BYTES, 1 MiB by default) applies
# first, so this one binds only where that is raised for photos straight from a phone camera.
AVATAR_MAX_BYTES = 5 * 1024 * 1024
# Checked from the header, before decoding: 40 MP covers any phone photo, while a PNG of a few
# kilobytes that claims 100,000 x 100,000 pixels (gigabytes once decoded) is refused unopened.
AVATAR_MAX_PIXELS = 40_000_000
FULL_SIZE = 512
THUMB_SIZE = 128
AVATAR_CONTENT_TYPE = "image/webp"
_ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

# The view from migration 0009: id and avatar key of active accounts with a public profile.
public_avatar = table("public_avatar", column("id", Uuid()), column("avatar_key", String()))


@dataclass(frozen=True)
class ProcessedAvatar:
    full: bytes
    thumb: bytes
    width: int
    height: int


@dataclass(frozen=True)
class AvatarChange:
    avatar: AvatarOut | None
    # Files of the replaced avatar. Delete them only once the change is committed: before, a
    # failed commit would leave the account pointing at files that are gone.
    stale_keys: list[str]


def process_image(data: bytes) -> ProcessedAvatar:
    """Sniffs, checks and re-encodes an upload. CPU-bound: call it in a thread."""
    try:
        with Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS) as probe:
            _check_dimensions(*probe.size)
            probe.verify()  # structure and checksums, without decoding the pixels
        # verify() leaves the image unusable, so open the bytes again to decode them.
        with Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS) as image:
            # JPEG only: decode at the smallest scale still at least FULL_SIZE, far faster
            # for a 12 MP photo. Other formats ignore it.
            image.draft("RGB", (FULL_SIZE, FULL_SIZE))
            image.load()
            upright = ImageOps.exif_transpose(image)
            clean = _clean_pixels(upright)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageDimensionsTooLarge(_dimensions_detail()) from None
    except UnidentifiedImageError:
        raise UnsupportedImage("The file is not a JPEG, PNG or WebP image.") from None
    except (OSError, SyntaxError, ValueError, EOFError, Warning) as exc:
        # Pillow's ways of saying the file is truncated or malformed.
        log.info("unreadable avatar upload", extra={"error": repr(exc)})
        raise UnreadableImage() from None
    full = _fitted(clean, FULL_SIZE)
    return ProcessedAvatar(
        full=_encode(full, quality=85),
        thumb=_encode(_fitted(clean, THUMB_SIZE), quality=80),
        width=full.width,
        height=full.height,
    )


def _check_dimensions(width: int, height: int) -> None:
    if width * height > AVATAR_MAX_PIXELS:
        raise ImageDimensionsTooLarge(_dimensions_detail())


def _dimensions_detail() -> str:
    return f"Images may have at most {AVATAR_MAX_PIXELS // 1_000_000} million pixels."


def _clean_pixels(image: Image.Image) -> Image.Image:
    """The pixels alone, in sRGB, in RGB or RGBA: no metadata survives this."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    icc = image.info.get("icc_profile")
    converted = image.convert("RGBA" if has_alpha else "RGB")
    if icc and image.mode in ("RGB", "RGBA"):
        # Phone photos are often Display P3: dropping the profile without converting would
        # wash the colours out. A profile that cannot be used is simply dropped.
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            transformed = ImageCms.profileToProfile(converted, source, _SRGB)
            if transformed is not None:
                converted = transformed
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    fresh = Image.new(converted.mode, converted.size)
    fresh.paste(converted)
    return fresh


def _fitted(image: Image.Image, side: int) -> Image.Image:
    resized = image.copy()
    resized.thumbnail((side, side), Image.Resampling.LANCZOS)  # keeps the ratio, never enlarges
    return resized


def _encode(image: Image.Image, *, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=quality, method=4)
    return out.getvalue()


def _object_keys(avatar_key: str) -> tuple[str, str]:
    return f"{avatar_key}-{FULL_SIZE}.webp", f"{avatar_key}-{THUMB_SIZE}.webp"


def _avatar_out(user: UserAccount, processed: ProcessedAvatar) -> AvatarOut:
    url = user.avatar_url
    assert url is not None  # noqa: S101 - set just before
    return AvatarOut(
        url=url,
        thumbnail_url=f"{url}&size=thumb",
        width=processed.width,
        height=processed.height,
    )


async def _locked_account(session: AsyncSession, principal: Principal) -> UserAccount:
    # Locked: two uploads at once must not both believe they replaced the same old avatar
    # (one set of files would never be deleted).
    stmt = select(UserAccount).where(UserAccount.id == principal.user_id).with_for_update()
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise UserNotFound()
    return user


async def set_avatar(
    session: AsyncSession,
    principal: Principal,
    storage: Storage,
    *,
    data: bytes,
    max_bytes: int = AVATAR_MAX_BYTES,
) -> AvatarChange:
    """Replaces the person's avatar with a cleaned copy of `data`. The caller deletes
    `stale_keys` from storage after the transaction commits."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"Images may be at most {max_bytes // 1024} KiB.")
    processed = await asyncio.to_thread(process_image, data)
    user = await _locked_account(session, principal)
    # From ids only, never from the uploaded file's name.
    avatar_key = f"avatars/{principal.user_id.hex}/{new_id().hex}"
    full_key, thumb_key = _object_keys(avatar_key)
    await storage.put(full_key, processed.full, AVATAR_CONTENT_TYPE)
    await storage.put(thumb_key, processed.thumb, AVATAR_CONTENT_TYPE)
    stale = avatar_files(user)
    user.avatar_key = avatar_key
    await session.flush()
    return AvatarChange(_avatar_out(user, processed), stale)


async def remove_avatar(session: AsyncSession, principal: Principal) -> AvatarChange:
    """Removes the person's avatar; removing none is not an error (the result is the same)."""
    user = await _locked_account(session, principal)
    stale = avatar_files(user)
    user.avatar_key = None
    await session.flush()
    return AvatarChange(None, stale)


async def get_avatar(
    session: AsyncSession,
    principal: Principal | None,
    storage: Storage,
    *,
    user_id: uuid.UUID,
    size: AvatarSize = "full",
) -> bytes:
    """The WebP bytes of a person's avatar: always for its owner, for anyone else only while
    the profile is public. Otherwise the same 404 as for no avatar or no such person."""
    if principal is not None and principal.user_id == user_id:
        stmt = select(UserAccount.avatar_key).where(UserAccount.id == user_id)
    else:
        stmt = select(public_avatar.c.avatar_key).where(public_avatar.c.id == user_id)
    avatar_key = (await session.execute(stmt)).scalar_one_or_none()
    if avatar_key is None:
        raise AvatarNotFound()
    full_key, thumb_key = _object_keys(avatar_key)
    try:
        return await storage.get(thumb_key if size == "thumb" else full_key)
    except StoredObjectNotFound:
        log.warning("avatar file missing", extra={"key": avatar_key})
        raise AvatarNotFound() from None


async def discard_files(storage: Storage, keys: Iterable[str]) -> None:
    """Deletes replaced files. Runs after the commit; a failure leaves an orphan file, never an
    account pointing at nothing, so it is logged rather than raised."""
    for key in keys:
        try:
            await storage.delete(key)
        except OSError:
            log.exception("could not delete a replaced file", extra={"key": key})


def avatar_files(user: UserAccount) -> list[str]:
    """The storage keys a person's avatar occupies, for account erasure."""
    return list(_object_keys(user.avatar_key)) if user.avatar_key else []

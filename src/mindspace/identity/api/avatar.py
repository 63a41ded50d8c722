from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Depends, Response, UploadFile

from mindspace.identity import service
from mindspace.identity.errors import (
    AvatarNotFound,
    ImageDimensionsTooLarge,
    ImageTooLarge,
    UnreadableImage,
    UnsupportedImage,
)
from mindspace.identity.schemas import AvatarOut, AvatarSize
from mindspace.platform.errors import RateLimited, Unauthenticated, problem_responses
from mindspace.platform.ids import UserId
from mindspace.platform.ratelimit import rate_limit
from mindspace.platform.web import (
    AnySession,
    CurrentPrincipal,
    FileStorage,
    OptionalPrincipal,
    UserSession,
    require_principal,
)

router = APIRouter(prefix="/users", tags=["users"])


_IMAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {service.AVATAR_CONTENT_TYPE: {}}, "description": "The picture (WebP)"}
}


@router.post(
    "/me/avatar",
    responses=problem_responses(
        Unauthenticated,
        ImageTooLarge,
        UnsupportedImage,
        UnreadableImage,
        ImageDimensionsTooLarge,
        RateLimited,
    ),
    # Each upload costs a decode and two encodes.
    dependencies=[
        Depends(require_principal),
        Depends(rate_limit("30/hour", name="avatar", per="principal")),
    ],
)
async def upload_avatar(
    file: UploadFile,
    session: UserSession,
    principal: CurrentPrincipal,
    storage: FileStorage,
    background: BackgroundTasks,
) -> AvatarOut:
    """A JPEG, PNG or WebP image, as multipart field `file`. The type is read from the bytes,
    not from the file name or the declared type. Stored re-encoded as WebP, at most 512×512
    (and a 128×128 thumbnail), without any metadata."""
    # One byte over the limit is enough to know it is too large.
    data = await file.read(service.AVATAR_MAX_BYTES + 1)
    change = await service.set_avatar(session, principal, storage, data=data)
    # Background tasks run after the transaction has committed (see UserSession).
    background.add_task(service.discard_files, storage, change.stale_keys)
    assert change.avatar is not None  # noqa: S101 - set_avatar always returns one
    return change.avatar


@router.delete("/me/avatar", status_code=204, responses=problem_responses(Unauthenticated))
async def delete_avatar(
    session: UserSession,
    principal: CurrentPrincipal,
    storage: FileStorage,
    background: BackgroundTasks,
) -> Response:
    change = await service.remove_avatar(session, principal)
    background.add_task(service.discard_files, storage, change.stale_keys)
    return Response(status_code=204)


@router.get(
    "/me/avatar",
    response_class=Response,
    responses={**_IMAGE, **problem_responses(Unauthenticated, AvatarNotFound)},
)
async def get_my_avatar(
    session: UserSession,
    principal: CurrentPrincipal,
    storage: FileStorage,
    size: AvatarSize = "full",
) -> Response:
    data = await service.get_avatar(
        session, principal, storage, user_id=principal.user_id, size=size
    )
    return Response(data, media_type=service.AVATAR_CONTENT_TYPE)


@router.get(
    "/{user_id}/avatar",
    response_class=Response,
    responses={**_IMAGE, **problem_responses(AvatarNotFound)},
)
async def get_avatar(
    user_id: UserId,
    session: AnySession,
    principal: OptionalPrincipal,
    storage: FileStorage,
    size: AvatarSize = "full",
) -> Response:
    """Anyone's avatar while their profile is public, like the profile itself; always one's
    own. Otherwise 404, the same as for no avatar or no such person."""
    data = await service.get_avatar(session, principal, storage, user_id=user_id, size=size)
    return Response(data, media_type=service.AVATAR_CONTENT_TYPE)

"""Route dependencies for identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mindspace.identity.tokens import TokenService


async def get_tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


Tokens = Annotated[TokenService, Depends(get_tokens)]

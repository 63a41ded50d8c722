"""Cursor pagination: `?limit=&cursor=` in, `{items, next_cursor}` out.

Keyset, not offset: a page costs the same on page 1 and page 1,000, and rows added while a
person scrolls never shift what they see. The cursor is opaque to clients (base64url JSON of the
last row's sort key) and validated like any other input.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import QueryableAttribute

from mindspace.platform.errors import InvalidInput

T = TypeVar("T")
Row = TypeVarTuple("Row")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(InvalidInput):
    type = "invalid-cursor"
    title = "The cursor is not valid"


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` from the previous page")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Paging = Annotated[PageParams, Depends(page_params)]


def _encode_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, raw),) = value.items()
        if kind == "u":
            return uuid.UUID(raw)
        if kind == "t":
            return datetime.fromisoformat(raw)
    if isinstance(value, str | int | float) or value is None:
        return value
    raise ValueError("unsupported cursor value")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = orjson.dumps([_encode_value(v) for v in values])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
        if not isinstance(values, list) or len(values) != arity:
            raise ValueError("wrong arity")
        return [_decode_value(v) for v in values]
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor("Start again from the first page.") from None


def keyset(
    stmt: Select[*Row],
    params: PageParams,
    *keys: ColumnElement[Any] | QueryableAttribute[Any],
    descending: bool = True,
) -> Select[*Row]:
    """Orders `stmt` by `keys` (which must end with a unique column) and applies the cursor.
    Fetches one row more than the limit, so `page()` knows whether there is a next page."""
    if params.cursor:
        after = decode_cursor(params.cursor, len(keys))
        key = tuple_(*keys) if len(keys) > 1 else keys[0]
        bound = tuple_(*after) if len(keys) > 1 else after[0]
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [k.desc() if descending else k.asc() for k in keys]
    return stmt.order_by(*order).limit(params.limit + 1)


def page(rows: Sequence[T], params: PageParams, key: Any) -> Page[T]:
    """Trims the extra row `keyset()` fetched and makes the cursor from the last row kept.
    `key(item)` returns the item's sort key in the same order as keyset()'s `keys`."""
    items = list(rows[: params.limit])
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > params.limit else None
    return Page[T](items=items, next_cursor=next_cursor)

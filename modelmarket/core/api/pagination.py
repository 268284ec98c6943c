"""Cursor (keyset) pagination: stable under inserts, constant cost at any depth, no offsets.

A cursor is an opaque token naming the last row of the previous page by its sort value and id."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import DataError
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse

from modelmarket.core.exceptions import BadRequest

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class CursorPage[M: Model]:
    items: list[M]
    next_cursor: str | None


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadRequest("The cursor is not valid.", code="invalid_cursor") from None
    if not isinstance(values, list) or len(values) != 2 or not isinstance(values[1], int):
        raise BadRequest("The cursor is not valid.", code="invalid_cursor")
    return values


def paginate[M: Model](
    queryset: QuerySet[M], *, order_field: str, descending: bool = True, cursor: str | None, limit: int | None
) -> CursorPage[M]:
    """One page of `queryset` ordered by `order_field` then id (both descending or both ascending)."""
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}.", code="invalid_limit")
    sign = "-" if descending else ""
    queryset = queryset.order_by(f"{sign}{order_field}", f"{sign}id")
    if cursor:
        value, last_id = _decode(cursor)
        after = "lt" if descending else "gt"
        try:
            queryset = queryset.filter(
                Q(**{f"{order_field}__{after}": value}) | Q(**{order_field: value, f"id__{after}": last_id})
            )
            rows = list(queryset[: limit + 1])
        except (ValueError, TypeError, ValidationError, DataError):  # a value the field's type cannot take
            raise BadRequest("The cursor is not valid.", code="invalid_cursor") from None
    else:
        rows = list(queryset[: limit + 1])
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = _encode([getattr(last, order_field), last.pk])
    return CursorPage(items=items, next_cursor=next_cursor)


def add_next_link(request: HttpRequest, response: HttpResponse, next_cursor: str | None) -> None:
    """`Link: <...?cursor=...>; rel="next"`, as GitHub and Hugging Face send it."""
    if next_cursor:
        query = request.GET.copy()
        query["cursor"] = next_cursor
        response["Link"] = (
            f'<{request.build_absolute_uri(request.path)}?{urlencode(query, doseq=True)}>; rel="next"'
        )

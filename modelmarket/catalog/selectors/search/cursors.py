"""Keyset cursors: a page ends at (sort value, id) and the next page starts after it. A cursor is the sort name,
that value and the id, as URL-safe base64 JSON; anything else, or a cursor of another sort, is BadRequest
`invalid_cursor`."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from modelmarket.catalog.models import AIModel
from modelmarket.core.exceptions import BadRequest


def encode_cursor(sort: str, value: Any, last_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Decimal):
        value = str(value)
    raw = json.dumps([sort, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "The cursor is not valid for this search.", code="invalid_cursor", details={"field": "cursor"}
    )


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The (sort value, id) after which the next page starts, checked for the shape this sort writes."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeError):
        raise _bad_cursor() from None
    if not (isinstance(decoded, list) and len(decoded) == 3 and decoded[0] == sort):
        raise _bad_cursor()
    _, value, last_id = decoded
    if isinstance(last_id, bool) or not isinstance(last_id, int) or not 0 < last_id < 2**63:
        raise _bad_cursor()
    return _cursor_value(sort, value), last_id


def _cursor_value(sort: str, value: Any) -> Any:
    if sort in ("relevance", "trending"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad_cursor()
        return float(value)
    if sort in ("downloads", "calls"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise _bad_cursor()
        return value
    if sort == "rating":
        try:
            rating = Decimal(value) if isinstance(value, str) else None
        except InvalidOperation:
            rating = None
        if rating is None or not rating.is_finite():
            raise _bad_cursor()
        return rating
    if value is None:  # newest: listings without a publication date come last
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _bad_cursor()
    return parsed


def after_cursor(models: QuerySet[AIModel], field_name: str, value: Any, last_id: int) -> QuerySet[AIModel]:
    if value is None:
        return models.filter(**{f"{field_name}__isnull": True, "id__lt": last_id})
    after = Q(**{f"{field_name}__lt": value}) | Q(**{field_name: value, "id__lt": last_id})
    if field_name == "published_at":
        after |= Q(published_at__isnull=True)
    return models.filter(after)

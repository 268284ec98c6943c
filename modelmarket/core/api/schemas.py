from __future__ import annotations

from typing import Any

from ninja import Schema
from pydantic import ConfigDict


class StrictIn(Schema):
    """Request bodies refuse fields they do not know (422), so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(Schema):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(Schema):
    """Every error the API answers: `{"error": {"code", "message", "details"}}`. `code` is stable; match on it."""

    error: ErrorBody


ERROR_RESPONSES: dict[int, type[Schema]] = {
    status: ErrorOut for status in (400, 401, 403, 404, 409, 413, 422, 429)
}

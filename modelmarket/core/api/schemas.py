from __future__ import annotations

from typing import Any

from ninja import Schema


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

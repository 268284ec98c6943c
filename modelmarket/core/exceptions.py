"""The one exception hierarchy services raise. Each class carries an HTTP status and a stable machine code;
`config/api.py` renders them as `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any, ClassVar


class ApplicationError(Exception):
    status_code: int = 400
    default_code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        status_code: int | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.message = message or self.default_message
        self.code = code or self.default_code
        self.details = details or {}
        super().__init__(self.message)

    def as_envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ApplicationError):
    pass


class ValidationFailed(ApplicationError):
    status_code = 422
    default_code = "validation_error"
    default_message = "The request body or parameters are invalid."


class NotAuthenticated(ApplicationError):
    status_code = 401
    default_code = "not_authenticated"
    default_message = "Authentication is required: send an API key or log in."


class PaymentRequired(ApplicationError):
    status_code = 402
    default_code = "payment_required"
    default_message = "This needs an active plan or credit."


class PermissionDenied(ApplicationError):
    status_code = 403
    default_code = "permission_denied"
    default_message = "You are not allowed to do this."


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "payload_too_large"
    default_message = "The request body is larger than allowed."


class RateLimited(ApplicationError):
    status_code = 429
    default_code = "rate_limited"
    default_message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after_seconds: int, **kwargs: Any) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message, **kwargs)


class UpstreamError(ApplicationError):
    status_code = 502
    default_code = "upstream_error"
    default_message = "The model's provider failed to answer."

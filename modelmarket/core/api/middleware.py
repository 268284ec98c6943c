from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

# Codes for errors raised below the API's own handlers (URL resolver, method checks, CSRF, request parsing).
STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
}


class ApiEnvelopeMiddleware:
    """Every error under /api/ speaks the one envelope, including those Django answers before any API code runs:
    unknown paths (404), wrong methods (405), CSRF failures (403), bodies Django refused (400/413)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and not request.path.startswith("/api/docs")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            code = STATUS_CODES.get(status, "error")
            message = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
            if status == 405:
                message = f"{request.method} is not allowed here."
            if status == 404:
                message = "No such API endpoint."
            if status == 403 and "CSRF" in response.content.decode(errors="replace")[:2000]:
                code, message = "csrf_failed", "CSRF verification failed: send the csrftoken cookie's value."
            envelope = JsonResponse(
                {"error": {"code": code, "message": message, "details": {}}}, status=status
            )
            for header in ("Allow", "Retry-After"):
                if header in response:
                    envelope[header] = response[header]
            return envelope
        return response

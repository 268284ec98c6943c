"""What the gateway's endpoints share on the HTTP side: JSON answers, errors in our envelope or OpenAI's, and reading a
request (headers, id, bounded JSON body, validation, caller)."""

from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from modelmarket.core.exceptions import (
    ApplicationError,
    BadRequest,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from modelmarket.core.ratelimit import client_address
from modelmarket.inference.gateway.pipeline import Call, Caller, Gateway, random_hex
from modelmarket.inference.providers.base import ProviderError


class JSONResponse(Response):
    """A JSON answer, encoded with orjson (several times faster than the standard library on the hot path), its
    headers encoded here in one pass: Starlette's `init_headers` (a lowercased copy and a scan of every header for
    the content type and length) cost a call more than encoding the body."""

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.background = None
        self.body = orjson.dumps(content)
        self.raw_headers = [
            (b"content-length", str(len(self.body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]
        if headers:
            self.raw_headers.extend(
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
            )


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INFERENCE_SCOPE = "inference"


# --- Errors, in our envelope or OpenAI's ---------------------------------------------------------------------------
def _status_and_body(error: ApplicationError | ProviderError) -> tuple[int, str, str, dict[str, Any]]:
    if isinstance(error, ProviderError):
        return (
            error.status,
            error.code,
            error.message,
            {k: v for k, v in error.details.items() if k != "usage"},
        )
    return error.status_code, error.code, error.message, error.details


def error_response(
    error: ApplicationError | ProviderError, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    status, code, message, details = _status_and_body(error)
    headers = {**(headers or {}), "X-Request-ID": request_id}
    _retry_after(error, headers)
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status, headers=headers
    )


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_response(
    error: ApplicationError | ProviderError, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    status, code, message, details = _status_and_body(error)
    param = details.get("param") if isinstance(details.get("param"), str) else None
    body = {
        "error": {
            "message": message,
            "type": _OPENAI_TYPES.get(status, "api_error"),
            "param": param,
            "code": code,
        }
    }
    headers = {**(headers or {}), "X-Request-ID": request_id}
    _retry_after(error, headers)
    return JSONResponse(body, status, headers=headers)


def _retry_after(error: ApplicationError | ProviderError, headers: dict[str, str]) -> None:
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    elif isinstance(error, ProviderError) and error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))


# --- Request helpers --------------------------------------------------------------------------------------------------
def headers_of(request: Request) -> dict[str, str]:
    """The request's headers as a dict, the first of repeated ones winning (as `dict(request.headers)` has it):
    built once per request, straight from the ASGI scope."""
    headers: dict[str, str] | None = request.scope.get("modelmarket.headers")
    if headers is None:
        headers = request.scope["modelmarket.headers"] = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in reversed(request.scope["headers"])
        }
    return headers


def request_id_of(request: Request) -> str:
    sent = headers_of(request).get("x-request-id", "")
    return sent if 0 < len(sent) <= 200 and sent.isprintable() else random_hex()


async def read_json(request: Request) -> Any:
    """The body as JSON, refusing more than GATEWAY_MAX_REQUEST_BYTES before reading further."""
    limit = settings.GATEWAY_MAX_REQUEST_BYTES
    declared = headers_of(request).get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.", details={"max_bytes": limit})
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(
                f"The request body is larger than {limit} bytes.", details={"max_bytes": limit}
            )
    request.state.body_bytes = len(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc


def parse(model: type[Any], data: Any) -> Any:
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="malformed_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"location": [str(part) for part in error["loc"]], "message": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        first = errors[0]["location"] if errors else []
        raise ValidationFailed(details={"errors": errors, "param": ".".join(first)}) from None


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def caller_of(request: Request) -> Caller:
    headers = headers_of(request)
    peer = request.client.host if request.client else ""
    client = client_address(peer, headers.get("x-forwarded-for", ""))
    cookies = request.cookies if "cookie" in headers else {}  # parsed only when sent
    return await gateway(request).caller(headers, cookies, request.method, INFERENCE_SCOPE, client)


def call_headers(call: Call, request_id: str) -> dict[str, str]:
    return {**call.headers(), "X-Request-ID": request_id}

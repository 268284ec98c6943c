"""The one NinjaAPI behind /api/v1/, and the handlers that render every error as the one envelope."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from modelmarket.accounts.api import router as accounts_router
from modelmarket.billing.api import router as billing_router
from modelmarket.catalog.api import router as catalog_router
from modelmarket.core.exceptions import (
    ApplicationError,
    BadRequest,
    NotAuthenticated,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from modelmarket.inference.api import router as inference_router
from modelmarket.usage.api import router as usage_router

logger = logging.getLogger(__name__)


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.", code="malformed_json")
        return data


class ModelMarketAPI(NinjaAPI):
    """Ninja's document, plus the gateway's operations (served by the Starlette gateway, not by these routers)."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        from modelmarket.inference.gateway.openapi import gateway_openapi

        schema = super().get_openapi_schema(*args, **kwargs)
        schema["paths"].update(gateway_openapi(schema["components"]["schemas"]))
        return schema


api = ModelMarketAPI(
    title="ModelMarket API",
    version="1.0.0",
    description=(
        "Discover, buy and call AI models. Authenticate with `Authorization: Bearer mm_...` or `X-API-Key`. "
        'Errors: `{"error": {"code", "message", "details"}}`.'
    ),
    urls_namespace="api",
    docs_url=None,
    parser=StrictJsonParser(),
)


def render_error(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    response = api.create_response(request, error.as_envelope(), status=error.status_code)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after_seconds)
    return response


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return render_error(request, exc)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "location": [str(part) for part in error.get("loc", [])],
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors
    ]
    return render_error(request, ValidationFailed(details={"errors": errors}))


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return render_error(request, NotAuthenticated())


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, ApplicationError):  # raised inside ninja's own parsing, e.g. malformed JSON
        return render_error(request, exc.__cause__)
    code = (
        "csrf_failed"
        if "CSRF" in exc.message
        else {400: "bad_request", 403: "permission_denied"}.get(exc.status_code, "error")
    )
    return render_error(request, ApplicationError(exc.message, code=code, status_code=exc.status_code))


@api.exception_handler(RequestDataTooBig)
def on_body_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return render_error(request, PayloadTooLarge())


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error in API view")
    return render_error(
        request, ApplicationError("Something went wrong on our side.", code="internal_error", status_code=500)
    )


api.add_router("/", accounts_router)
api.add_router("/", catalog_router)
api.add_router("/", usage_router)
api.add_router("/", inference_router)
api.add_router("/", billing_router)

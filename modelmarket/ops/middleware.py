from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from modelmarket.ops.context import request_id_var, user_id_var
from modelmarket.ops.metrics import request_observe, route_name

logger = logging.getLogger("modelmarket.request")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Takes the caller's X-Request-ID (or makes one), echoes it on the response, puts it on every log line of the
    request, logs one line per request with status, user and latency, and counts the request for /metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        request_token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            latency_seconds = time.perf_counter() - started
            user = getattr(request, "user", None)
            user_id = user.pk if user is not None and user.is_authenticated else None
            user_id_var.set(user_id)
            request_observe(request, status=response.status_code, latency_seconds=latency_seconds)
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "route": route_name(request),
                    "status": response.status_code,
                    "latency_ms": round(latency_seconds * 1000, 2),
                    "user_id": user_id,
                    "api_key_id": getattr(getattr(request, "api_key", None), "pk", None),
                },
            )
            return response
        finally:
            request_id_var.reset(request_token)
            user_id_var.reset(user_token)

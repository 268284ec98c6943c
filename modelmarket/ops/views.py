from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from huey.contrib.djhuey import HUEY
from prometheus_client import CONTENT_TYPE_LATEST

from modelmarket.ops.metrics import is_local_request, metrics_text

logger = logging.getLogger(__name__)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering. Touches nothing else, so a database outage does not restart workers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    cache.set("readyz", "1", timeout=5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache did not return what was written")


def _check_jobs() -> None:
    HUEY.storage.queue_size()


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: database, cache and job queue all reachable. 503 with the failing parts otherwise."""
    checks = {"database": _check_database, "cache": _check_cache, "jobs": _check_jobs}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
            results[name] = "unavailable"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503
    )


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for a scraper on this machine (loopback, no proxy headers) or a logged-in staff member.
    Anyone else gets a 404, so the endpoint is not advertised publicly."""
    user = getattr(request, "user", None)
    if not (is_local_request(request) or (user is not None and user.is_active and user.is_staff)):
        raise Http404()
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)

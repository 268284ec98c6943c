"""Prometheus metrics of the Django side: request count and latency by method, route name and status.

Each worker process keeps its own registry. With several granian workers, set PROMETHEUS_MULTIPROC_DIR (read by
prometheus_client itself) to a shared, emptied-at-start directory so `/metrics` adds up every worker.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client import generate_latest as _generate_latest

REQUESTS = Counter(
    "modelmarket_http_requests",
    "HTTP requests answered by Django, by method, route name and status.",
    ["method", "route", "status"],
)
REQUEST_LATENCY = Histogram(
    "modelmarket_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
# Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever REMOTE_ADDR says.
_FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def route_name(request: HttpRequest) -> str:
    """The matched URL pattern's name: bounded cardinality, unlike the path. "unmatched" for 404s without one."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


def request_observe(request: HttpRequest, *, status: int, latency_seconds: float) -> None:
    method = request.method if request.method in _KNOWN_METHODS else "OTHER"
    labels = {"method": method, "route": route_name(request), "status": str(status)}
    REQUESTS.labels(**labels).inc()
    REQUEST_LATENCY.labels(**labels).observe(latency_seconds)


def is_local_request(request: HttpRequest) -> bool:
    """From this machine and not relayed by a proxy (a proxy on this machine makes every visitor look local)."""
    if any(header in request.headers for header in _FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def metrics_text() -> bytes:
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return _generate_latest(registry)
    return _generate_latest()

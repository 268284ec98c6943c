"""How API callers prove who they are: API keys (`Authorization: Bearer` or `X-API-Key`) or the browser session
(with CSRF on writes), and the global per-caller rate limit in front of the whole API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from modelmarket.accounts.models import ApiKey, ApiKeyScope, User
from modelmarket.accounts.selectors import api_key_authenticate, api_key_sha256
from modelmarket.accounts.services import api_key_touch
from modelmarket.core.exceptions import NotAuthenticated, PermissionDenied, RateLimited
from modelmarket.core.ratelimit import client_ip, rate_limit_hit


def raw_api_key(request: HttpRequest) -> str | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`, if either is present."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def _resolve_key(request: HttpRequest, raw: str) -> ApiKey:
    key: ApiKey | None = getattr(request, "resolved_api_key", None)
    if key is None or key.key_sha256 != api_key_sha256(raw):
        key = api_key_authenticate(raw)
    return key


def _authorize_key(request: HttpRequest, raw: str, scope: str) -> User:
    key = _resolve_key(request, raw)
    if scope not in key.scopes:
        raise PermissionDenied(
            f"This API key lacks the '{scope}' scope.", code="insufficient_scope", details={"required": scope}
        )
    api_key_touch(key=key)
    request.api_key = key  # type: ignore[attr-defined]
    request.user = key.user
    return key.user


class BearerKeyAuth(HttpBearer):
    """`Authorization: Bearer mm_...`"""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def authenticate(self, request: HttpRequest, token: str) -> User:
        return _authorize_key(request, token, self.scope)


class HeaderKeyAuth(APIKeyHeader):
    """`X-API-Key: mm_...`"""

    param_name = "X-API-Key"

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        return _authorize_key(request, key, self.scope) if key else None


class BrowserSessionAuth(SessionAuth):
    """The logged-in browser session; ninja enforces CSRF for unsafe methods on cookie auth."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None


def api_auth(scope: str = ApiKeyScope.READ) -> list[Any]:
    """The auth list for an endpoint: an API key holding `scope`, or the browser session (which holds all scopes)."""
    return [BearerKeyAuth(scope), HeaderKeyAuth(scope), BrowserSessionAuth()]


def _anyone(request: HttpRequest) -> Any:
    """Last in an auth list: no key and no session reads as the anonymous user (truthy, so ninja lets it in)."""
    return request.user


def api_auth_optional(scope: str = ApiKeyScope.READ) -> list[Any]:
    """For public reads that show more to the signed-in (their own drafts): an API key with `scope`, the browser
    session, or nobody. A key that is presented but invalid still answers 401."""
    return [*api_auth(scope), _anyone]


WEBHOOK_PATHS = frozenset({"/api/v1/payments/helio/webhook"})


class RateLimitMiddleware:
    """Limits every /api/ request: per API key (its own requests_per_minute or the default), per user for browser
    sessions, per client IP otherwise — and per IP for presented keys that are not valid, so guessing keys is
    limited too. Adds the rate-limit headers to every /api/ response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        bucket, limit = self._bucket_for(request)
        decision = rate_limit_hit(bucket, limit=limit)
        if decision.allowed:
            response = self.get_response(request)
        else:
            error = RateLimited(
                f"Rate limit of {limit} requests per minute exceeded.",
                retry_after_seconds=decision.reset_seconds,
                details={"limit": limit, "retry_after_seconds": decision.reset_seconds},
            )
            response = JsonResponse(error.as_envelope(), status=error.status_code)
        for name, value in decision.headers().items():
            response[name] = value
        return response

    def _bucket_for(self, request: HttpRequest) -> tuple[str, int]:
        if request.path in WEBHOOK_PATHS:
            # A payment provider's deliveries: their Bearer token is the webhook's shared secret, not an API key.
            return f"webhook:{client_ip(request)}", settings.API_WEBHOOK_REQUESTS_PER_MINUTE
        raw = raw_api_key(request)
        if raw:
            try:
                key = api_key_authenticate(raw)
            except NotAuthenticated:
                return f"ip:{client_ip(request)}", settings.API_ANONYMOUS_REQUESTS_PER_MINUTE
            request.resolved_api_key = key  # type: ignore[attr-defined]
            return f"key:{key.pk}", key.requests_per_minute or settings.API_DEFAULT_REQUESTS_PER_MINUTE
        if request.user.is_authenticated:
            return f"user:{request.user.pk}", settings.API_SESSION_REQUESTS_PER_MINUTE
        return f"ip:{client_ip(request)}", settings.API_ANONYMOUS_REQUESTS_PER_MINUTE

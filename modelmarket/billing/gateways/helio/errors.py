"""Helio's errors as ours: an answer we cannot read, a refusal (4xx), missing configuration."""

from __future__ import annotations

from modelmarket.core.exceptions import UpstreamError
from modelmarket.core.http import UpstreamRejected


class HelioResponseError(UpstreamError):
    """Helio answered 2xx with something we cannot use: not JSON, or a required field missing or malformed."""

    default_code = "helio_bad_response"
    default_message = "Helio answered with a response we could not read."


class HelioRejected(UpstreamRejected):
    """Helio refused the request with a 4xx (never retried). `code` says which kind: `helio_unauthorized`
    (401/403: wrong or missing keys), `helio_not_found` (404), `helio_rejected` (any other 4xx)."""

    default_code = "helio_rejected"


class HelioNotConfigured(UpstreamError):
    default_code = "helio_not_configured"
    default_message = (
        "Helio is not configured: set HELIO_PUBLIC_KEY and HELIO_SECRET_KEY (and HELIO_WALLET_ID)."
    )

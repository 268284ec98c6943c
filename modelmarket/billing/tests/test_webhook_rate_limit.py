"""Payment webhooks have their own rate limit: a provider delivers bursts from a few addresses, and its Bearer token is
the webhook's shared secret, not an API key (which would otherwise count as a failed key guess)."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
URL = "/api/v1/payments/helio/webhook"


def test_webhook_deliveries_are_not_held_to_the_anonymous_limit(settings):
    settings.API_ANONYMOUS_REQUESTS_PER_MINUTE = 2
    settings.API_WEBHOOK_REQUESTS_PER_MINUTE = 50
    client = Client()
    headers = {"HTTP_AUTHORIZATION": "Bearer not-a-shared-token", "HTTP_X_SIGNATURE": "00"}
    answers = [client.post(URL, b"{}", content_type="application/json", **headers) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [401] * 5  # refused as forged, not throttled
    assert answers[-1]["X-RateLimit-Limit"] == "50"


def test_webhook_floods_are_still_limited(settings):
    settings.API_WEBHOOK_REQUESTS_PER_MINUTE = 3
    client = Client()
    statuses = [client.post(URL, b"{}", content_type="application/json").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]

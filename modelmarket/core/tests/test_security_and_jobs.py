from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from modelmarket.core.models import IdempotencyRecord, RateLimitCounter
from modelmarket.core.tasks import housekeeping_purge_expired

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/v1/me"])
def test_security_headers_on_pages_and_api(path):
    response = Client().get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "object-src 'none'" in response["Content-Security-Policy"]


def test_favicon_points_at_the_logo():
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response.url == "/static/img/logo.svg"


def test_housekeeping_drops_closed_windows_and_stale_idempotency_records():
    now = timezone.now()
    RateLimitCounter.objects.create(bucket="old", window_start=int(now.timestamp()) - 7200, count=3)
    RateLimitCounter.objects.create(bucket="current", window_start=int(now.timestamp()) // 60 * 60, count=1)
    stale = IdempotencyRecord.objects.create(
        owner="user:1", key="old", scope="POST /x", request_sha256="0" * 64
    )
    IdempotencyRecord.objects.filter(pk=stale.pk).update(created_at=now - timedelta(hours=25))
    IdempotencyRecord.objects.create(owner="user:1", key="new", scope="POST /x", request_sha256="0" * 64)
    housekeeping_purge_expired.call_local()
    assert list(RateLimitCounter.objects.values_list("bucket", flat=True)) == ["current"]
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_forbidden_page_uses_the_site_layout(rf):
    from django.contrib.auth.models import AnonymousUser

    from config.urls import handler403
    from modelmarket.core.views import permission_denied

    request = rf.get("/somewhere/")
    request.user = AnonymousUser()
    response = permission_denied(request)
    assert handler403 == "modelmarket.core.views.permission_denied"
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>You can't do that here</h1>" in page
    assert '<header class="site-header">' in page


def test_housekeeping_refreshes_the_sqlite_planner_statistics(creator):
    from django.db import connection

    from modelmarket.catalog.services.models import model_create

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps its own statistics (autovacuum)")
    model_create(actor=creator, name="Counted", task="chat", license="mit")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")
        housekeeping_purge_expired.call_local()
        cursor.execute("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'catalog_aimodel'")
        assert cursor.fetchone()[0] > 0

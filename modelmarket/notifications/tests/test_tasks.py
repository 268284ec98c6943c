from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from modelmarket.notifications.models import Notification
from modelmarket.notifications.services import notification_send, notifications_purge
from modelmarket.notifications.tasks import NOTIFICATION_RETENTION_DAYS, notifications_purge_read

pytestmark = pytest.mark.django_db


def aged(user, *, days: int, read: bool) -> Notification:
    notification = notification_send(user=user, kind="general", title=f"{days} days", body="", email=False)
    created_at = timezone.now() - timedelta(days=days)
    Notification.objects.filter(pk=notification.pk).update(
        created_at=created_at, read_at=created_at + timedelta(hours=1) if read else None
    )
    return notification


def test_the_daily_job_deletes_only_read_notifications_past_180_days(buyer, creator):
    assert NOTIFICATION_RETENTION_DAYS == 180
    old_read = aged(buyer, days=181, read=True)
    old_read_other = aged(creator, days=400, read=True)
    old_unread = aged(buyer, days=400, read=False)
    recent_read = aged(buyer, days=179, read=True)
    recent_unread = aged(buyer, days=1, read=False)
    notifications_purge_read.call_local()
    remaining = set(Notification.objects.values_list("pk", flat=True))
    assert remaining == {old_unread.pk, recent_read.pk, recent_unread.pk}
    assert old_read.pk not in remaining
    assert old_read_other.pk not in remaining


def test_purge_works_in_chunks_and_counts(buyer, monkeypatch):
    monkeypatch.setattr("modelmarket.notifications.services.PURGE_CHUNK", 2)
    for _ in range(5):
        aged(buyer, days=200, read=True)
    horizon = timezone.now() - timedelta(days=180)
    assert notifications_purge(read_and_created_before=horizon) == 5
    assert Notification.objects.count() == 0
    assert notifications_purge(read_and_created_before=horizon) == 0

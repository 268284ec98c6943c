"""Reads of a person's notifications. Someone else's notification is NotFound, never PermissionDenied."""

from __future__ import annotations

from django.db.models import QuerySet

from modelmarket.accounts.models import User
from modelmarket.core.exceptions import NotFound
from modelmarket.notifications.models import Notification, NotificationPreference


def notification_list(*, user: User) -> QuerySet[Notification]:
    """The person's notifications, newest first."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def notification_unread_count(*, user: User) -> int:
    """One COUNT over the (user, read_at, -created_at) index."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_get(*, user: User, notification_id: int) -> Notification:
    try:
        return Notification.objects.get(user=user, pk=notification_id)
    except Notification.DoesNotExist:
        raise NotFound("No such notification.", code="notification_not_found") from None


def notification_preferences_get(*, user: User) -> NotificationPreference:
    """The person's preferences; an unsaved row holding the defaults (email on, nothing muted) if they never chose."""
    preference = NotificationPreference.objects.filter(user=user).first()
    return preference or NotificationPreference(user=user)

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from modelmarket.notifications.selectors import notification_unread_count


def unread_notifications(request: HttpRequest) -> dict[str, object]:
    """`unread_notifications_count` for the header badge of a signed-in person: one indexed COUNT, run only when a
    template reads it (an htmx partial that never shows the header does not query). Nothing for anonymous visitors."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications_count": SimpleLazyObject(lambda: notification_unread_count(user=user))}

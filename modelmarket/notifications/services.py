"""Writes: send a notification (in-app, plus an email copy the person's preferences allow), mark notifications read,
change preferences, purge old read notifications."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from modelmarket.accounts.models import User
from modelmarket.core.email import email_enqueue
from modelmarket.core.exceptions import ValidationFailed
from modelmarket.notifications.models import (
    Notification,
    NotificationKind,
    NotificationPreference,
    site_path_is_safe,
)
from modelmarket.notifications.selectors import notification_get, notification_preferences_get

TITLE_MAX_LENGTH = 200
DEDUPE_KEY_MAX_LENGTH = 200
PURGE_CHUNK = 5_000


def _validated_kind(kind: str) -> NotificationKind:
    try:
        return NotificationKind(kind)
    except ValueError:
        raise ValidationFailed(
            f"Unknown notification kind {kind!r}.",
            code="invalid_kind",
            details={"allowed": list(NotificationKind.values)},
        ) from None


def _validate_content(*, title: str, url: str, dedupe_key: str | None) -> None:
    # One line: the title is also the email's subject, where a line break would be a header injection.
    if not title.strip() or len(title) > TITLE_MAX_LENGTH or "\n" in title or "\r" in title:
        raise ValidationFailed(
            f"A title of 1 to {TITLE_MAX_LENGTH} characters on one line is required.", code="invalid_title"
        )
    if not site_path_is_safe(url):
        # Refused rather than cleaned: a sender passing an absolute URL has a bug, and a link leading off the
        # site from a notification would be an open redirect.
        raise ValidationFailed(
            "A notification links only to a path on this site, starting with a single /.",
            code="invalid_url",
            details={"url": url},
        )
    if dedupe_key is not None and not 0 < len(dedupe_key) <= DEDUPE_KEY_MAX_LENGTH:
        raise ValidationFailed(
            f"A dedupe key has 1 to {DEDUPE_KEY_MAX_LENGTH} characters.", code="invalid_dedupe_key"
        )


def _wants_email(*, user: User, kind: str, email: bool) -> bool:
    if not email or not user.is_active or not user.email:
        return False
    return notification_preferences_get(user=user).allows_email(kind)


def notification_send(
    *,
    user: User,
    kind: str,
    title: str,
    body: str,
    url: str = "",
    dedupe_key: str | None = None,
    email: bool = True,
) -> Notification:
    """Store a notification for `user` and, when `email` is true and their preferences allow this kind, queue an
    email copy that is sent once the caller's transaction commits (none if it rolls back).

    `url` is a path on this site ("/account/orders/12/"); absolute and protocol-relative URLs raise
    ValidationFailed. With `dedupe_key`, a second call for the same person and key stores and emails nothing and
    returns the first notification, so a retried job notifies once; the unique constraint decides, not a read."""
    kind = _validated_kind(kind)
    _validate_content(title=title, url=url, dedupe_key=dedupe_key)
    wants_email = _wants_email(user=user, kind=kind, email=email)
    notification = Notification(
        user=user,
        kind=kind,
        title=title,
        body=body,
        url=url,
        dedupe_key=dedupe_key,
        emailed_at=timezone.now() if wants_email else None,
    )
    try:
        with transaction.atomic():
            notification.save()
    except IntegrityError:
        if dedupe_key is None:
            raise
        existing = Notification.objects.filter(user=user, dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return existing
    if wants_email:
        email_enqueue(_email_message(notification))
    return notification


def _email_message(notification: Notification) -> EmailMultiAlternatives:
    context = {
        "user": notification.user,
        "notification": notification,
        "link": settings.SITE_URL + (notification.url or reverse("notification_list")),
        "preferences_link": settings.SITE_URL + reverse("notification_settings"),
        "site_name": settings.SITE_NAME,
    }
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{notification.title}",
        body=render_to_string("notifications/email.txt", context),
        to=[notification.user.email],
    )
    message.attach_alternative(render_to_string("notifications/email.html", context), "text/html")
    return message


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of `user`'s notifications read (a no-op when it already is). Someone else's is NotFound."""
    notification = notification_get(user=user, notification_id=notification_id)
    if notification.read_at is None:
        now = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.read_at = now
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of `user` read; returns how many were unread."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def notification_preferences_update(
    *, user: User, email_enabled: bool, muted_kinds: list[str]
) -> NotificationPreference:
    """Replace `user`'s email preferences. `muted_kinds` lists kinds never emailed; they are still shown in-app."""
    unknown = sorted(set(muted_kinds) - set(NotificationKind.values))
    if unknown:
        raise ValidationFailed(
            "Unknown notification kinds.", code="invalid_muted_kinds", details={"unknown": unknown}
        )
    preference, _ = NotificationPreference.objects.update_or_create(
        user=user,
        defaults={
            "email_enabled": email_enabled,
            "muted_kinds": [kind for kind in NotificationKind.values if kind in set(muted_kinds)],
        },
    )
    return preference


def notifications_purge(*, read_and_created_before: datetime) -> int:
    """Delete read notifications created before the horizon, in chunks of short transactions. Unread ones are
    kept whatever their age. Returns how many were deleted."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                Notification.objects.filter(
                    created_at__lt=read_and_created_before, read_at__isnull=False
                ).values_list("pk", flat=True)[:PURGE_CHUNK]
            )
            if not ids:
                return deleted
            count, _ = Notification.objects.filter(pk__in=ids).delete()
        deleted += count

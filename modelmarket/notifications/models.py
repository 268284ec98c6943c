"""In-app notifications (with an optional email copy) and each person's email preferences."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.http import url_has_allowed_host_and_scheme

URL_MAX_LENGTH = 500


class NotificationKind(models.TextChoices):
    ORDER_PAID = "order_paid", "Order paid"
    ORDER_FAILED = "order_failed", "Order failed"
    SUBSCRIPTION_RENEWAL_DUE = "subscription_renewal_due", "Subscription renewal due"
    SUBSCRIPTION_EXPIRED = "subscription_expired", "Subscription expired"
    PASS_EXPIRING = "pass_expiring", "Time pass expiring"
    REFUND_RECORDED = "refund_recorded", "Refund recorded"
    PAYOUT_RECORDED = "payout_recorded", "Payout recorded"
    LOW_CREDIT = "low_credit", "Low credit"
    GENERAL = "general", "General"


def site_path_is_safe(value: str) -> bool:
    """True for "" and for a path on this site ("/account/usage/?days=7"). False for anything a browser could
    take to another host: a scheme ("https://", "javascript:"), a protocol-relative "//host", a backslash (browsers
    read "/\\host" as "//host") and any whitespace or control character (browsers drop tabs and newlines, so
    "/\\t/host" becomes "//host")."""
    if value == "":
        return True
    if len(value) > URL_MAX_LENGTH or not value.startswith("/") or value.startswith("//"):
        return False
    if "\\" in value or any(ord(character) <= 0x20 or ord(character) == 0x7F for character in value):
        return False
    return url_has_allowed_host_and_scheme(value, allowed_hosts=None)


def validate_site_path(value: str) -> None:
    if not site_path_is_safe(value):
        raise ValidationError(
            "Enter a path on this site, starting with a single /, such as /account/usage/.",
            code="invalid_url",
        )


class Notification(models.Model):
    """One message to one person, shown in-app; `emailed_at` is when its email copy was queued (null: none)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Plain text; shown escaped.")
    url = models.CharField(
        max_length=URL_MAX_LENGTH,
        blank=True,
        validators=[validate_site_path],
        help_text="A path on this site the notification leads to; never an absolute URL.",
    )
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # Null, not "", means "no key": the unique constraint then applies to keys only.
    dedupe_key = models.CharField(  # noqa: DJ001
        max_length=200,
        null=True,
        blank=True,
        help_text="Set by senders that may retry (a reminder job); one notification per person and key.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_read_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="notification_unique_user_dedupe_key",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=NotificationKind.values), name="notification_kind_valid"
            ),
            # The database's own guard against open redirects; `site_path_is_safe` is the full rule.
            models.CheckConstraint(
                condition=models.Q(url="")
                | (
                    models.Q(url__startswith="/")
                    & ~models.Q(url__startswith="//")
                    & ~models.Q(url__contains="\\")
                ),
                name="notification_url_relative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}: {self.title}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """Whether a person wants notification emails, and which kinds they muted. No row means the defaults: email
    on, nothing muted. Muting only stops the email; the in-app notification is always stored."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email_enabled = models.BooleanField(default=True)
    muted_kinds = models.JSONField(
        default=list, blank=True, help_text="Notification kinds never emailed (still shown in-app)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification preferences of user {self.user_id}"

    def allows_email(self, kind: str) -> bool:
        return self.email_enabled and kind not in self.muted_kinds

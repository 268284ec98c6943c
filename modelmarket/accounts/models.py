from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from modelmarket.core.models import TimestampedModel


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields: Any) -> User:
        extra_fields.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person with an account. Everyone is a buyer; creator, moderator and admin are roles on top."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    bio = models.TextField(max_length=2000, blank=True)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    links = models.JSONField(
        default=list, blank=True, help_text="Up to five https:// links shown on the profile."
    )

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_unique_case_insensitive")]

    def __str__(self) -> str:
        return self.email

    @property
    def public_name(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]


class CreatorProfile(TimestampedModel):
    """A buyer's application to sell models; staff verify it before the person becomes a creator."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="creator_profile"
    )
    display_name = models.CharField(max_length=80)
    bio = models.TextField(max_length=4000)
    website = models.URLField(blank=True)
    links = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        permissions = [("review_creatorprofile", "Can verify or reject creator applications")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "verified", "rejected"]),
                name="creatorprofile_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.status})"


class ApiKeyScope(models.TextChoices):
    INFERENCE = "inference", "Call models"
    READ = "read", "Read account, usage and catalog data"
    MANAGE = "manage", "Manage keys, listings and orders"


class ApiKey(models.Model):
    """An API key. Only the SHA-256 of the key is stored; the key itself is shown once, when it is created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=16, help_text="The key's first characters, shown so it can be recognised."
    )
    key_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    spend_cap_minor = models.BigIntegerField(null=True, blank=True)
    spend_cap_currency = models.CharField(max_length=10, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="apikey_user_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(spend_cap_minor__isnull=True) | models.Q(spend_cap_minor__gte=0),
                name="apikey_spend_cap_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(spend_cap_minor__isnull=True) | ~models.Q(spend_cap_currency=""),
                name="apikey_spend_cap_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

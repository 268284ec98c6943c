"""Reads about people, roles and API keys. Permission checks live here: what a caller may not see is NotFound."""

from __future__ import annotations

import hashlib

from allauth.account.models import EmailAddress
from django.db.models import QuerySet
from django.utils import timezone

from modelmarket.accounts import roles
from modelmarket.accounts.models import ApiKey, CreatorProfile, User
from modelmarket.core.exceptions import NotAuthenticated, NotFound


def user_email_is_verified(user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def user_is_creator(user: User) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=roles.CREATOR).exists())


def user_is_moderator(user: User) -> bool:
    return user.is_authenticated and user.has_perm("accounts.review_creatorprofile")


def user_is_admin(user: User) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=roles.ADMIN).exists())


def user_roles(user: User) -> list[str]:
    names = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        names |= {roles.CREATOR, roles.MODERATOR, roles.ADMIN}
    return ["buyer", *[role for role in (roles.CREATOR, roles.MODERATOR, roles.ADMIN) if role in names]]


def api_key_sha256(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_list(*, user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-id")


def api_key_get(*, user: User, key_id: int) -> ApiKey:
    """The caller's own key; someone else's key is NotFound, never PermissionDenied."""
    try:
        return ApiKey.objects.get(user=user, pk=key_id)
    except ApiKey.DoesNotExist:
        raise NotFound("No such API key.", code="api_key_not_found") from None


def api_key_authenticate(raw_key: str) -> ApiKey:
    """The active key matching `raw_key`, with its user; raises NotAuthenticated with a precise code otherwise."""
    from django.conf import settings

    if not raw_key.startswith(settings.API_KEY_PREFIX) or len(raw_key) > 200:
        raise NotAuthenticated("The API key is malformed.", code="invalid_api_key")
    try:
        key = ApiKey.objects.select_related("user").get(key_sha256=api_key_sha256(raw_key))
    except ApiKey.DoesNotExist:
        raise NotAuthenticated("The API key is not valid.", code="invalid_api_key") from None
    if key.revoked_at is not None:
        raise NotAuthenticated("The API key has been revoked.", code="api_key_revoked")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise NotAuthenticated("The API key has expired.", code="api_key_expired")
    if not key.user.is_active:
        raise NotAuthenticated("The account owning this key is disabled.", code="account_disabled")
    return key


def creator_profile_for(*, user: User) -> CreatorProfile | None:
    return CreatorProfile.objects.filter(user=user).first()


def creator_profile_review_queue(*, actor: User, status: str | None = None) -> QuerySet[CreatorProfile]:
    if not user_is_moderator(actor):
        raise NotFound()
    profiles = CreatorProfile.objects.select_related("user", "reviewed_by").order_by("created_at", "id")
    return profiles.filter(status=status) if status else profiles


def creator_profile_get_for_review(*, actor: User, profile_id: int) -> CreatorProfile:
    try:
        return creator_profile_review_queue(actor=actor).get(pk=profile_id)
    except CreatorProfile.DoesNotExist:
        raise NotFound("No such creator application.") from None

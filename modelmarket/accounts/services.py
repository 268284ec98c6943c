"""Writes about people, roles and API keys. Every function is keyword-only, typed and atomic."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from modelmarket.accounts import roles
from modelmarket.accounts.models import ApiKey, ApiKeyScope, CreatorProfile, User
from modelmarket.accounts.selectors import (
    api_key_get,
    api_key_sha256,
    creator_profile_get_for_review,
    user_email_is_verified,
)
from modelmarket.core.email import email_enqueue
from modelmarket.core.exceptions import BadRequest, Conflict, PermissionDenied
from modelmarket.core.generation import generation_bump
from modelmarket.core.images import square_thumbnail

MAX_ACTIVE_KEYS_PER_USER = 50
MAX_PROFILE_LINKS = 5


def _clean_links(links: list[str]) -> list[str]:
    cleaned = [link.strip() for link in links if link and link.strip()]
    if len(cleaned) > MAX_PROFILE_LINKS:
        raise BadRequest(f"At most {MAX_PROFILE_LINKS} links.", code="too_many_links")
    for link in cleaned:
        if not link.startswith("https://") or len(link) > 300 or any(ch.isspace() for ch in link):
            raise BadRequest("Links must be https:// addresses.", code="invalid_link", details={"link": link})
    return cleaned


def api_key_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    requests_per_minute: int | None = None,
    spend_cap_minor: int | None = None,
    spend_cap_currency: str = "",
    by_operator: bool = False,
) -> tuple[ApiKey, str]:
    """Create a key for `user` and return it with the full secret, which is never stored and never shown again.

    People need a verified email first; `by_operator=True` (the `create_api_key` command) skips that check."""
    if not by_operator and not user_email_is_verified(user):
        raise PermissionDenied(
            "Verify your email address before creating API keys.", code="email_not_verified"
        )
    name = name.strip()
    if not name:
        raise BadRequest("Give the key a name.", code="invalid_name")
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if not scopes or unknown:
        raise BadRequest(
            f"Scopes must be a non-empty list of {', '.join(ApiKeyScope.values)}.",
            code="invalid_scopes",
            details={"unknown": unknown},
        )
    if expires_at is not None and timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at, UTC)  # a time without an offset is read as UTC
    if expires_at is not None and expires_at <= timezone.now():
        raise BadRequest("The expiry must be in the future.", code="invalid_expiry")
    if (spend_cap_minor is None) != (not spend_cap_currency):
        raise BadRequest("A spend cap needs both an amount and a currency.", code="invalid_spend_cap")
    with transaction.atomic():
        # Lock the user row so two concurrent creations cannot both pass the count check.
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = ApiKey.objects.filter(user=user, revoked_at__isnull=True).count()
        if active >= MAX_ACTIVE_KEYS_PER_USER:
            raise Conflict(
                f"At most {MAX_ACTIVE_KEYS_PER_USER} active keys per account.", code="too_many_keys"
            )
        raw_key = settings.API_KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey.objects.create(
            user=user,
            name=name,
            prefix=raw_key[: len(settings.API_KEY_PREFIX) + 8],
            key_sha256=api_key_sha256(raw_key),
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
            requests_per_minute=requests_per_minute,
            spend_cap_minor=spend_cap_minor,
            spend_cap_currency=spend_cap_currency.upper(),
        )
    return key, raw_key


def api_key_revoke(*, user: User, key_id: int) -> ApiKey:
    """Revoke one of the user's keys; revoking twice is harmless. Takes effect on the next request."""
    with transaction.atomic():
        key = api_key_get(user=user, key_id=key_id)
        ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        key.refresh_from_db()
    generation_bump()
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once a minute per key so busy keys do not write on every request."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def user_profile_update(
    *,
    user: User,
    display_name: str,
    bio: str,
    links: list[str],
    avatar: UploadedFile | None = None,
    remove_avatar: bool = False,
) -> User:
    links = _clean_links(links)
    thumbnail = (
        square_thumbnail(avatar, size_px=settings.AVATAR_SIZE_PX, max_bytes=settings.AVATAR_MAX_UPLOAD_BYTES)
        if avatar is not None
        else None
    )
    old_avatar = user.avatar.name if (thumbnail is not None or remove_avatar) else ""
    user.display_name = display_name.strip()[:80]
    user.bio = bio.strip()[:2000]
    user.links = links
    with transaction.atomic():
        if thumbnail is not None:
            user.avatar.save(f"{user.pk}-{secrets.token_hex(6)}.png", thumbnail, save=False)
        elif remove_avatar:
            user.avatar = None
        user.save(update_fields=["display_name", "bio", "links", "avatar"])
    if old_avatar:
        storage = user.avatar.storage
        transaction.on_commit(lambda: storage.delete(old_avatar))
    return user


def creator_profile_apply(
    *, user: User, display_name: str, bio: str, website: str = "", links: list[str] | None = None
) -> CreatorProfile:
    """Apply to become a creator, or edit the application. A rejected application goes back to review;
    a verified creator's edits keep the verification."""
    display_name, bio = display_name.strip(), bio.strip()
    if not display_name or not bio:
        raise BadRequest("A display name and a bio are required.", code="incomplete_creator_profile")
    if website and not website.startswith(("https://", "http://")):
        raise BadRequest("The website must be an http(s) address.", code="invalid_website")
    cleaned_links = _clean_links(links or [])
    with transaction.atomic():
        profile, created = CreatorProfile.objects.select_for_update().get_or_create(
            user=user,
            defaults={"display_name": display_name, "bio": bio, "website": website, "links": cleaned_links},
        )
        if not created:
            profile.display_name, profile.bio, profile.website, profile.links = (
                display_name,
                bio,
                website,
                cleaned_links,
            )
            if profile.status == CreatorProfile.Status.REJECTED:
                profile.status = CreatorProfile.Status.PENDING
            profile.save()
    return profile


def creator_profile_review(*, actor: User, profile_id: int, approve: bool, note: str = "") -> CreatorProfile:
    """Verify or reject an application (moderators and admins). Verification grants the creator role;
    rejecting a verified creator takes it away. The applicant is told by email."""
    with transaction.atomic():
        profile = creator_profile_get_for_review(actor=actor, profile_id=profile_id)
        profile = CreatorProfile.objects.select_for_update().select_related("user").get(pk=profile.pk)
        if profile.user_id == actor.pk and not actor.is_superuser:
            raise PermissionDenied("You cannot review your own application.", code="self_review")
        profile.status = CreatorProfile.Status.VERIFIED if approve else CreatorProfile.Status.REJECTED
        profile.reviewed_by, profile.reviewed_at, profile.review_note = actor, timezone.now(), note.strip()
        profile.save()
        creator_group = Group.objects.get(name=roles.CREATOR)
        if approve:
            profile.user.groups.add(creator_group)
        else:
            profile.user.groups.remove(creator_group)
        outcome = "verified: you can now publish models" if approve else "not approved"
        email_enqueue(
            EmailMessage(
                subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Your creator application was {outcome.split(':')[0]}",
                body=(
                    f"Hello {profile.display_name},\n\nYour creator application was {outcome}.\n"
                    + (f"\nNote from our team: {profile.review_note}\n" if profile.review_note else "")
                    + f"\n{settings.SITE_URL}/account/creator/\n"
                ),
                to=[profile.user.email],
            )
        )
    return profile

"""The system accounts that own listings mirrored from a provider: one per source, with a verified creator profile
so they publish directly, and no usable password (nobody signs in as them).

Provider sync and the demo catalog both use them: `<source>-mirror@modelmarket.local`, creator profile
"<Provider> (mirror)"."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from modelmarket.accounts import roles
from modelmarket.accounts.models import CreatorProfile, User
from modelmarket.catalog.vocabulary import Source

MIRROR_DOMAIN = "modelmarket.local"


@dataclass(frozen=True)
class Mirror:
    email: str
    display_name: str
    bio: str
    website: str


MIRRORS: dict[str, Mirror] = {
    Source.HUGGINGFACE: Mirror(
        f"huggingface-mirror@{MIRROR_DOMAIN}",
        "Hugging Face (mirror)",
        "Listings of models hosted on the Hugging Face Hub. The model authors own the models and their cards; "
        "calls run on Hugging Face once the marketplace has Hugging Face credentials.",
        "https://huggingface.co",
    ),
    Source.REPLICATE: Mirror(
        f"replicate-mirror@{MIRROR_DOMAIN}",
        "Replicate (mirror)",
        "Listings of models served by Replicate. The model authors own the models; calls run on Replicate once the "
        "marketplace has Replicate credentials.",
        "https://replicate.com",
    ),
    Source.OPENAI_COMPATIBLE: Mirror(
        f"openai-compatible-mirror@{MIRROR_DOMAIN}",
        "OpenAI-compatible endpoints (examples)",
        "Example listings of public OpenAI-compatible APIs, showing how such a server is listed. They run once the "
        "marketplace holds a key for that vendor.",
        "",
    ),
}


def mirror_account(*, source: str) -> User:
    """The mirror account for `source`, created on first use with a verified creator profile and the creator role.
    Idempotent: an existing account is returned unchanged (staff may have edited its profile).

    Writes the creator profile directly instead of through `creator_profile_review`: a system account has no
    applicant to email and no reviewer."""
    mirror = MIRRORS[source]
    with transaction.atomic():
        user = User.objects.filter(email__iexact=mirror.email).first()
        if user is None:
            try:
                with transaction.atomic():  # a concurrent first run may create it between the lookup and here
                    user = User.objects.create_user(mirror.email, None, display_name=mirror.display_name)
            except IntegrityError:
                user = User.objects.get(email__iexact=mirror.email)
        profile, created = CreatorProfile.objects.get_or_create(
            user=user,
            defaults={
                "display_name": mirror.display_name,
                "bio": mirror.bio,
                "website": mirror.website,
                "status": CreatorProfile.Status.VERIFIED,
                "review_note": "System account for provider listings.",
            },
        )
        if created or profile.status == CreatorProfile.Status.VERIFIED:
            user.groups.add(Group.objects.get(name=roles.CREATOR))
    return user

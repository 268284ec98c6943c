from __future__ import annotations

from typing import cast

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group

from modelmarket.accounts import roles
from modelmarket.accounts.models import CreatorProfile, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    display_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        """Verified email by default; `UserFactory(verified=False)` for an unverified one."""
        if create:
            user = cast(User, self)
            EmailAddress.objects.create(
                user=user, email=user.email, primary=True, verified=extracted is not False
            )
            user.save()


def make_user(role: str = "buyer", **kwargs: object) -> User:
    """A user holding `role`: buyer, creator (verified creator profile), moderator or admin."""
    user = cast(User, UserFactory(**kwargs))
    if role == "creator":
        CreatorProfile.objects.create(
            user=user,
            display_name=user.public_name,
            bio="I publish models.",
            status=CreatorProfile.Status.VERIFIED,
        )
        user.groups.add(Group.objects.get(name=roles.CREATOR))
    elif role == "moderator":
        user.groups.add(Group.objects.get(name=roles.MODERATOR))
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    elif role == "admin":
        user.groups.add(Group.objects.get(name=roles.ADMIN))
        user.is_staff = True
        user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    return user

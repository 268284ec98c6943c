"""`manage.py load_demo`: the demo accounts `make run` prints. Safe to run any number of times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from modelmarket.accounts import roles, services
from modelmarket.accounts.models import CreatorProfile, User


@dataclass(frozen=True)
class DemoAccount:
    role: str
    email: str
    password: str
    display_name: str


# The one place the demo passwords live; `make run` prints them and the README lists them (a test keeps it honest).
DEMO_ACCOUNTS = (
    DemoAccount("buyer", "buyer@example.com", "demo-buyer-pass", "Demo Buyer"),
    DemoAccount("creator", "creator@example.com", "demo-creator-pass", "Demo Creator"),
    DemoAccount("staff", "staff@example.com", "demo-staff-pass", "Demo Staff"),
)


def demo_account(role: str) -> DemoAccount:
    return next(account for account in DEMO_ACCOUNTS if account.role == role)


def _ensure_user(account: DemoAccount) -> User:
    """The account with its documented password and a verified email, whatever state an earlier run left."""
    user = User.objects.filter(email__iexact=account.email).first()
    if user is None:
        user = User.objects.create_user(account.email, account.password, display_name=account.display_name)
    elif not user.check_password(account.password) or not user.is_active:
        user.set_password(account.password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    EmailAddress.objects.update_or_create(
        user=user,
        email__iexact=account.email,
        defaults={"email": account.email, "verified": True, "primary": True},
    )
    return user


def _ensure_staff(user: User) -> None:
    if not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        user.save(update_fields=["is_staff", "is_superuser"])
    user.groups.add(Group.objects.get(name=roles.ADMIN))


def _ensure_verified_creator(user: User, *, reviewer: User) -> None:
    profile = CreatorProfile.objects.filter(user=user).first()
    if profile is None:
        profile = services.creator_profile_apply(
            user=user,
            display_name=user.display_name,
            bio="Publishes the demo models that come with ModelMarket.",
            website="https://example.com",
        )
    if (
        profile.status != CreatorProfile.Status.VERIFIED
        or not user.groups.filter(name=roles.CREATOR).exists()
    ):
        services.creator_profile_review(
            actor=reviewer, profile_id=profile.pk, approve=True, note="Demo account, verified by load_demo."
        )


class Command(BaseCommand):
    help = "Create the demo buyer, creator and staff accounts (idempotent). Refused in production without --force."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Load even when MODELMARKET_ENV=production (not advised)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENVIRONMENT == "production" and not options["force"]:
            raise CommandError(
                "Refusing to create demo accounts with known passwords in production. Use --force if you mean it."
            )
        with transaction.atomic():
            users = {account.role: _ensure_user(account) for account in DEMO_ACCOUNTS}
            _ensure_staff(users["staff"])
            _ensure_verified_creator(users["creator"], reviewer=users["staff"])
        self.stdout.write("  Demo accounts (email / password):")
        for account in DEMO_ACCOUNTS:
            self.stdout.write(f"    {account.role:<8} {account.email:<22} {account.password}")

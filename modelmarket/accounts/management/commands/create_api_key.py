"""`manage.py create_api_key`: an operator issues an API key for a user and gets only the key on stdout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from modelmarket.accounts import services
from modelmarket.accounts.models import ApiKeyScope, User
from modelmarket.core.exceptions import ApplicationError


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Create an API key for a user and print the key (only the key, on stdout; it is not stored and cannot be "
        "shown again). An operator action: the user's email need not be verified."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The email address of the key's owner.")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated scopes: {', '.join(ApiKeyScope.values)}.",
        )
        parser.add_argument("--name", default="command line", help="A name to recognise the key by.")
        parser.add_argument(
            "--expires-in-days", type=_positive_int, help="Expire the key after this many days."
        )
        parser.add_argument("--rpm", type=_positive_int, help="Requests per minute allowed with this key.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["user"].strip()).first()
        if user is None:
            raise CommandError(f"No user with the email address {options['user']!r}.")
        if not user.is_active:
            raise CommandError(f"The account {user.email} is disabled.")
        scopes = [scope.strip() for scope in options["scopes"].split(",") if scope.strip()]
        days = options["expires_in_days"]
        try:
            _, raw_key = services.api_key_create(
                user=user,
                name=options["name"],
                scopes=scopes,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                requests_per_minute=options["rpm"],
                by_operator=True,
            )
        except ApplicationError as error:
            raise CommandError(str(error.message)) from error
        self.stdout.write(raw_key)

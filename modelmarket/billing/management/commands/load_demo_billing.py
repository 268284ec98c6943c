"""`manage.py load_demo_billing`: pricing plans on three demo models (idempotent). Needs `load_demo_catalog`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelmarket.billing.demo import DEMO_PLANS, demo_plans_load


class Command(BaseCommand):
    help = "Put pricing plans on three demo models (idempotent). Refused in production without --force."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Load even when MODELMARKET_ENV=production.")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENVIRONMENT == "production" and not options["force"]:
            raise CommandError("Refusing to add demo plans in production. Use --force if you mean it.")
        loaded = demo_plans_load()
        self.stdout.write(
            f"  Demo plans: {len(DEMO_PLANS)} models priced ({len(loaded)} new); payments go through the "
            f"{settings.PAYMENT_GATEWAY} gateway"
        )

"""`manage.py load_demo_catalog`: the demo catalog `make run` shows. Safe to run any number of times."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from modelmarket.accounts.management.commands.load_demo import demo_account
from modelmarket.accounts.models import User
from modelmarket.catalog.demo.loader import demo_catalog_load


class Command(BaseCommand):
    help = (
        "Load the demo catalog: five ONNX models that run here and listings of well-known Hugging Face and "
        "Replicate models (idempotent). Needs the demo creator from `load_demo`. Refused in production without "
        "--force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Load even when MODELMARKET_ENV=production (not advised)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENVIRONMENT == "production" and not options["force"]:
            raise CommandError(
                "Refusing to load demo listings into a production catalog. Use --force if you mean it."
            )
        email = demo_account("creator").email
        uploader = User.objects.filter(email__iexact=email).first()
        if uploader is None:
            raise CommandError(f"The demo creator {email} does not exist: run `manage.py load_demo` first.")
        started = time.monotonic()
        result = demo_catalog_load(uploader=uploader)
        total = len(result.created) + len(result.updated) + len(result.unchanged)
        self.stdout.write(
            f"  Demo catalog: {total} listings ({len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.skipped)} left alone) in {time.monotonic() - started:.1f} s"
        )
        for slug in result.skipped:
            self.stdout.write(f"    left alone (owned by someone else or synced): {slug}", self.style.WARNING)

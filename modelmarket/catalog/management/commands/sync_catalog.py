"""`manage.py sync_catalog --source huggingface|replicate [--search TEXT] [--limit N]`: mirror a provider's models
into the catalog now, with a progress bar on stderr and a summary line on stdout."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from modelmarket.catalog.services import sync
from modelmarket.catalog.services.sync import ProviderNotConfigured
from modelmarket.catalog.vocabulary import Source


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Create or update catalog listings from a provider's model list (see modelmarket/catalog/services/sync.py). "
        "Listings a creator edited keep their edits; a provider failure stops the run and keeps what was synced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, choices=[Source.HUGGINGFACE, Source.REPLICATE])
        parser.add_argument("--search", default="", help="Only models matching this text.")
        parser.add_argument("--limit", type=_positive_int, help="Read at most this many models.")

    def handle(self, *args: Any, source: str, search: str, limit: int | None, **options: Any) -> None:
        try:
            client = sync.provider_client(source)
        except ProviderNotConfigured as exc:
            raise CommandError(exc.message) from None
        with tqdm(
            total=limit, desc=f"sync {source}", unit="model", file=self.stderr._out, disable=False
        ) as bar:

            def advance(outcome: str) -> None:
                bar.update(1)
                bar.set_postfix_str(outcome, refresh=False)

            report = sync.catalog_sync(
                source=source, search=search, limit=limit, client=client, on_item=advance
            )
        self.stdout.write(report.summary())
        if report.error:
            raise CommandError(
                f"The {source} sync stopped early; the listings synced before it stay. {report.error}"
            )

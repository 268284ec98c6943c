"""The daily catalog sync job. Huey discovers `tasks` modules only, so `modelmarket/catalog/tasks.py` imports this
module to register the job with the consumer.

Runs when CATALOG_SYNC_ENABLED is on: one Hugging Face run per configured search term, then Replicate when its
token is set, each reading at most CATALOG_SYNC_LIMIT models. A Huey lock keeps two runs from overlapping (a run
that finds the lock held skips, logged by Huey); a provider failure ends that provider's run and the next goes on.
"""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task

from modelmarket.catalog.services.sync import SyncReport, catalog_sync
from modelmarket.catalog.vocabulary import Source

logger = logging.getLogger(__name__)

SYNC_LOCK_NAME = "catalog-sync"


@db_periodic_task(crontab(minute="0", hour=str(settings.CATALOG_SYNC_HOUR)))
@HUEY.lock_task(SYNC_LOCK_NAME)
def catalog_sync_periodic() -> list[SyncReport]:
    if not settings.CATALOG_SYNC_ENABLED:
        return []
    reports = [
        catalog_sync(source=Source.HUGGINGFACE, search=search, limit=settings.CATALOG_SYNC_LIMIT)
        for search in settings.CATALOG_SYNC_HUGGINGFACE_SEARCHES
    ]
    if settings.REPLICATE_API_TOKEN:
        reports.append(catalog_sync(source=Source.REPLICATE, limit=settings.CATALOG_SYNC_LIMIT))
    else:
        logger.info("catalog sync: Replicate skipped, REPLICATE_API_TOKEN is not set")
    for report in reports:
        log = logger.error if report.error else logger.info
        log("catalog sync: %s", report.summary(), extra=report.as_dict())
    return reports

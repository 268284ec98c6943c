"""Catalog jobs: validate uploaded files, delete stored objects of deleted files, and sweep what crashes leave."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from modelmarket.catalog import storage
from modelmarket.catalog.services import files as file_services
from modelmarket.catalog.services import stats

logger = logging.getLogger(__name__)

# Uploads older than this under tmp/ belong to a process that died mid-upload.
TEMPORARY_OBJECT_MAX_AGE_SECONDS = 24 * 3600
# A file still pending after this long lost its validation job (e.g. the queue was down at commit).
PENDING_REQUEUE_AFTER_SECONDS = 3600


@db_task(retries=3, retry_delay=60)
def model_file_validate(file_id: int) -> None:
    """Storage errors raise and the job retries; the file stays pending until a verdict is recorded."""
    file = file_services.file_validate(file_id=file_id)
    if file is not None:
        logger.info(
            "model file validated",
            extra={"file_id": file_id, "status": file.validation_status, "format": file.file_format},
        )


@db_task(retries=5, retry_delay=60)
def model_file_delete_object(key: str) -> None:
    storage.delete(key)


@db_periodic_task(crontab(minute="17"))
@lock_task("catalog-model-files-sweep")
def model_files_sweep() -> None:
    """Delete temporary objects abandoned by crashed uploads; re-queue validations that never ran."""
    for key in storage.temporary_keys_older_than(TEMPORARY_OBJECT_MAX_AGE_SECONDS):
        storage.delete_quietly(key)
    for file_id in file_services.files_pending_validation(older_than_seconds=PENDING_REQUEUE_AFTER_SECONDS):
        model_file_validate(file_id)


@db_periodic_task(crontab(minute="*/15"))
@lock_task("catalog-trending-refresh")
def trending_refresh() -> None:
    """Recompute every public listing's trending score (the catalog's default order without a query)."""
    stats.trending_scores_refresh()


# Huey's Django integration imports only modules named `tasks`: register the provider sync job from here.
from modelmarket.catalog import sync_tasks  # noqa: E402, F401

"""Background jobs of the gateway: following long jobs (Replicate predictions) to their end even when nobody polls
them, so each one's usage is recorded, and cancelling those that run past the time allowed."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import aiohttp
from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from modelmarket.inference import adapters
from modelmarket.inference.models import InferenceJob, QuotaCounter
from modelmarket.inference.providers import provider_for
from modelmarket.inference.providers.base import CallContext, JobRef, JobStatus, ProviderError, Target
from modelmarket.inference.selectors import gateway_listing_load
from modelmarket.inference.services import inference_job_update
from modelmarket.inference.ssrf import guarded_connector

logger = logging.getLogger(__name__)
POLL_BATCH = 100


@db_periodic_task(crontab(minute="*"))
def inference_jobs_poll() -> None:
    """Ask the provider about the least recently checked unfinished jobs; cancel those older than
    GATEWAY_JOB_MAX_SECONDS."""
    jobs = list(
        InferenceJob.objects.filter(completed_at__isnull=True)
        .select_related("model", "version")
        .order_by("updated_at")[:POLL_BATCH]
    )
    if not jobs:
        return
    oldest_allowed = timezone.now() - timedelta(seconds=settings.GATEWAY_JOB_MAX_SECONDS)
    work: list[tuple[InferenceJob, Target | None, bool]] = []
    listings = {}
    for job in jobs:
        if job.model.slug not in listings:
            listings[job.model.slug] = gateway_listing_load(job.model.slug)
        listing = listings[job.model.slug]
        target = listing.versions.get(job.version.version) if listing else None
        work.append((job, target, job.created_at < oldest_allowed))
    results = asyncio.run(_ask_providers(work))
    for (job, target, expired), result in zip(work, results, strict=True):
        if isinstance(result, JobStatus):
            inference_job_update(
                job=job,
                status=result.status,
                output=_job_output(job, target, result),
                error=result.error or "",
                usage=result.usage,
            )
        elif expired:  # the provider cannot tell us (listing gone, provider down): the job is over for us
            inference_job_update(
                job=job, status=InferenceJob.Status.CANCELED, error="The job ran out of time."
            )
        else:
            logger.warning(
                "could not poll an inference job", extra={"job": str(job.public_id), "error": str(result)}
            )
            InferenceJob.objects.filter(pk=job.pk).update(
                updated_at=timezone.now()
            )  # to the back of the queue


def _job_output(job: InferenceJob, target: Target | None, result: JobStatus) -> object:
    if target is None or result.status != "succeeded":
        return result.output
    try:
        return adapters.task_output(target, result.output)
    except ProviderError:
        logger.warning("a job's output has an unexpected shape", extra={"job": str(job.public_id)})
        return result.output


async def _ask_providers(
    work: list[tuple[InferenceJob, Target | None, bool]],
) -> list[JobStatus | BaseException]:
    async with aiohttp.ClientSession(connector=guarded_connector()) as session:
        credentials = {"huggingface": settings.HUGGINGFACE_TOKEN, "replicate": settings.REPLICATE_API_TOKEN}

        async def ask(job: InferenceJob, target: Target | None, expired: bool) -> JobStatus:
            if target is None:
                raise ProviderError("The listing or version is gone.")
            ctx = CallContext(
                session=session, deadline=time.monotonic() + 30, platform_credentials=credentials
            )
            provider = provider_for(target.provider)
            ref = JobRef(job.provider_job_id, "processing", job.provider_urls)
            return await (
                provider.job_cancel(target, ref, ctx) if expired else provider.job_status(target, ref, ctx)
            )

        return await asyncio.gather(*(ask(*item) for item in work), return_exceptions=True)


@db_periodic_task(crontab(minute="17", hour="*"))
def quota_counters_purge() -> None:
    """Drop quota counters of periods that ended more than 40 days ago (the longest period is a month)."""
    cutoff = int(time.time()) - 40 * 86400
    QuotaCounter.objects.filter(period_start__lt=cutoff).delete()

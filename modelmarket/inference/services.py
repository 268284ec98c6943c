"""Writes around the gateway: creators' listing gateway settings and long-running inference jobs."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.core.crypto import encrypt_bytes
from modelmarket.core.exceptions import NotFound, ValidationFailed
from modelmarket.core.generation import generation_bump
from modelmarket.inference.gateway.credit import JobReservation, job_usage_write
from modelmarket.inference.gateway.limits import TokenTally, tokens_add_now
from modelmarket.inference.models import InferenceJob, ListingGatewayConfig
from modelmarket.inference.providers.base import Usage
from modelmarket.usage.events import UsageRecord, UsageSource, UsageStatus

logger = logging.getLogger(__name__)


def listing_gateway_config_set(
    *,
    model: AIModel,
    secret: str | None = None,
    clear_secret: bool = False,
    fallback_version: str | None = None,
    clear_fallback: bool = False,
    timeout_seconds: int | None = None,
) -> ListingGatewayConfig:
    """Set a listing's upstream secret (stored encrypted; only its last 4 characters are kept readable), fallback
    version and time limit. The caller has checked that the actor may edit `model`."""
    with transaction.atomic():
        config, _ = ListingGatewayConfig.objects.select_for_update().get_or_create(model=model)
        if clear_secret:
            config.secret_encrypted, config.secret_hint = None, ""
        elif secret:
            if len(secret) > 4096 or any(character in secret for character in "\r\n"):
                raise ValidationFailed(
                    "The secret must be one line of at most 4096 characters.", code="invalid_secret"
                )
            config.secret_encrypted, config.secret_hint = encrypt_bytes(secret.encode()), secret[-4:]
        if clear_fallback:
            config.fallback_version = None
        elif fallback_version:
            version = ModelVersion.objects.filter(model=model, version=fallback_version).first()
            if version is None:
                raise NotFound("No such version of this model.", code="version_not_found")
            if not version.is_published or not (version.runtime or {}).get("provider"):
                raise ValidationFailed(
                    "The fallback must be a published version the gateway can run.", code="invalid_fallback"
                )
            config.fallback_version = version
        if timeout_seconds is not None:
            if not 1 <= timeout_seconds <= settings.GATEWAY_TIMEOUT_SECONDS:
                raise ValidationFailed(
                    f"The time limit must be between 1 and {settings.GATEWAY_TIMEOUT_SECONDS} seconds.",
                    code="invalid_timeout",
                )
            config.timeout_seconds = timeout_seconds
        config.save()
        generation_bump()
    return config


def inference_job_create(
    *,
    user_id: int,
    api_key_id: int | None,
    model_id: int,
    version_id: int,
    provider: str,
    provider_job_id: str,
    provider_urls: dict[str, str],
    status: str,
    event_id: str,
    source: str,
    request_id: str = "",
    reservation: JobReservation | None = None,
    token_tally: TokenTally | None = None,
) -> InferenceJob:
    """Keep a job the provider is still running. `event_id`, `source` and `request_id` are the call's metering,
    recorded as its one usage event when the job ends (`inference_job_update`); `reservation`, the pay-as-you-go
    credit the call reserved, stays held until then; `token_tally` says which token quota its tokens then count
    against."""
    return InferenceJob.objects.create(
        user_id=user_id,
        api_key_id=api_key_id,
        model_id=model_id,
        version_id=version_id,
        provider=provider,
        provider_job_id=provider_job_id,
        provider_urls=provider_urls,
        status=status,
        event_id=event_id,
        source=source,
        request_id=request_id[:200],
        reservation=reservation.as_json() if reservation is not None else None,
        currency=reservation.price.currency if reservation is not None else "",
        token_tally=token_tally.as_json() if token_tally is not None else None,
    )


# How a job's end is metered: canceled jobs were abandoned by their caller.
JOB_USAGE_STATUS = {
    InferenceJob.Status.SUCCEEDED: UsageStatus.SUCCEEDED,
    InferenceJob.Status.FAILED: UsageStatus.UPSTREAM_ERROR,
    InferenceJob.Status.CANCELED: UsageStatus.CLIENT_DISCONNECTED,
}


def inference_job_update(
    *, job: InferenceJob, status: str, output: Any = None, error: str = "", usage: Usage | None = None
) -> InferenceJob:
    """Record what the provider reported. The first time a job reaches a terminal status, its usage event is
    recorded in the same transaction, with its pay-as-you-go cost booked and the rest of its reservation given back
    (`gateway.credit.job_usage_write`); a job that ended never changes again (concurrent pollers race safely: only
    one conditional update wins)."""
    if job.is_terminal:
        return job
    now = timezone.now()
    usage = (
        Usage(
            input_tokens=max(0, usage.input_tokens),
            output_tokens=max(0, usage.output_tokens),
            compute_ms=max(0, usage.compute_ms),
        )
        if usage is not None
        else Usage()
    )
    terminal = status in JOB_USAGE_STATUS
    reservation = JobReservation.from_json(job.reservation) if job.reservation else None
    cost = (
        reservation.cost_minor(JOB_USAGE_STATUS[InferenceJob.Status(status)], usage)
        if terminal and reservation is not None
        else 0
    )
    with transaction.atomic():
        updated = InferenceJob.objects.filter(pk=job.pk, completed_at__isnull=True).update(
            status=status,
            output=output,
            error=error[:2000],
            compute_ms=usage.compute_ms,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_minor=cost,
            completed_at=now if terminal else None,
            updated_at=now,
        )
        job.refresh_from_db()
        if updated and terminal and job.event_id:
            job_usage_write(_job_usage_record(job), reservation, redis_url=settings.REDIS_URL)
        if updated and terminal and job.token_tally:
            _job_tokens_count(TokenTally.from_json(job.token_tally), job.input_tokens + job.output_tokens)
    return job


def _job_tokens_count(tally: TokenTally, tokens: int) -> None:
    """Count an ended job's tokens against its plan's token quota, as the gateway does for its calls: in Redis once
    the transaction commits, else in the database within it."""
    if not settings.REDIS_URL:
        tokens_add_now(tally, tokens)
        return

    def count() -> None:
        try:
            tokens_add_now(tally, tokens, redis_url=settings.REDIS_URL)
        except Exception:
            logger.exception("counting a job's tokens against its quota failed")

    transaction.on_commit(count)


def _job_usage_record(job: InferenceJob) -> UsageRecord:
    assert job.completed_at is not None
    status = JOB_USAGE_STATUS[InferenceJob.Status(job.status)]
    return UsageRecord(
        event_id=job.event_id or "",
        model_id=job.model_id,
        version_id=job.version_id,
        user_id=job.user_id,
        api_key_id=job.api_key_id,
        source=job.source or UsageSource.API,
        provider=job.provider,
        status=status,
        started_at=job.created_at,
        http_status={UsageStatus.SUCCEEDED: 200, UsageStatus.UPSTREAM_ERROR: 502}.get(status, 499),
        error_code="" if status == UsageStatus.SUCCEEDED else f"job_{job.status}",
        input_tokens=job.input_tokens,
        output_tokens=job.output_tokens,
        compute_ms=job.compute_ms,
        tokens_reported=True,
        cost_minor=job.cost_minor,
        currency=job.currency or "USD",
        latency_ms=int((job.completed_at - job.created_at).total_seconds() * 1000),
        request_id=job.request_id,
    )

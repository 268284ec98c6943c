"""Writes around the gateway: creators' listing gateway settings and long-running inference jobs."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from modelmarket.catalog.models import AIModel, ModelVersion
from modelmarket.core.crypto import encrypt_bytes
from modelmarket.core.exceptions import NotFound, ValidationFailed
from modelmarket.core.generation import generation_bump
from modelmarket.inference.models import InferenceJob, ListingGatewayConfig

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
) -> InferenceJob:
    return InferenceJob.objects.create(
        user_id=user_id,
        api_key_id=api_key_id,
        model_id=model_id,
        version_id=version_id,
        provider=provider,
        provider_job_id=provider_job_id,
        provider_urls=provider_urls,
        status=status,
    )


def inference_job_update(
    *, job: InferenceJob, status: str, output: Any = None, error: str = "", compute_ms: int = 0
) -> InferenceJob:
    """Record what the provider reported. A job that reached a terminal status never changes again."""
    if job.is_terminal:
        return job
    completed_at: datetime | None = timezone.now() if status in ("succeeded", "failed", "canceled") else None
    updated = InferenceJob.objects.filter(pk=job.pk, completed_at__isnull=True).update(
        status=status,
        output=output,
        error=error[:2000],
        compute_ms=compute_ms,
        completed_at=completed_at,
        updated_at=timezone.now(),
    )
    job.refresh_from_db()
    if not updated:
        logger.info("inference job already final", extra={"job": str(job.public_id)})
    return job

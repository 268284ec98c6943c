"""Long jobs (a Replicate prediction still running when its call's wait ends): the 202 answer, and the status and
cancel endpoints, which ask the provider and record what it reports (`inference.services.inference_job_update`)."""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import sync_to_async
from starlette.requests import Request
from starlette.responses import Response

from modelmarket.core.exceptions import ApplicationError
from modelmarket.inference import adapters
from modelmarket.inference.gateway.http import (
    JSONResponse,
    call_headers,
    caller_of,
    error_response,
    gateway,
    request_id_of,
)
from modelmarket.inference.gateway.pipeline import Call
from modelmarket.inference.providers import provider_for
from modelmarket.inference.providers.base import CallContext, JobRef, ProviderError


async def job_accepted(call: Call, job: JobRef) -> Response:
    """A call became a long job: keep it (with the call's metering, credit reservation and token tally), answer 202."""
    from modelmarket.inference.services import inference_job_create

    record = await sync_to_async(inference_job_create, thread_sensitive=False)(
        user_id=call.caller.user_id,
        api_key_id=call.caller.key_id,
        model_id=call.listing.model_id,
        version_id=call.target.version_id,
        provider=call.target.provider,
        provider_job_id=job.provider_job_id,
        provider_urls=job.urls,
        status=job.status,
        event_id=call.id,
        source=call.caller.source,
        request_id=call.request_id,
        reservation=call.job_reservation(),
        token_tally=call.job_token_tally(),
    )
    call.defer_to_job()
    return JSONResponse(
        _job_body(record, call.listing.slug, call.target.version),
        202,
        headers=call_headers(call, call.request_id),
    )


def _job_body(job: Any, slug: str, version: str) -> dict[str, Any]:
    return {
        "id": str(job.public_id),
        "model": slug,
        "version": version,
        "provider": job.provider,
        "status": job.status,
        "output": job.output,
        "error": job.error or None,
        "created_at": job.created_at.isoformat(),
        "completed_at": job.completed_at.isoformat() if job.completed_at else None,
        # What the job cost, once it ended (a pay-as-you-go job holds its call's reservation until then).
        "cost": {"amount_minor": job.cost_minor, "currency": job.currency or "USD"}
        if job.is_terminal
        else None,
        "urls": {
            "get": f"/api/v1/inference/{job.public_id}",
            "cancel": f"/api/v1/inference/{job.public_id}/cancel",
        },
    }


async def job_detail(request: Request) -> Response:
    return await _job_action(request, cancel=False)


async def job_cancel(request: Request) -> Response:
    return await _job_action(request, cancel=True)


async def _job_action(request: Request, *, cancel: bool) -> Response:
    from modelmarket.inference.selectors import inference_job_get
    from modelmarket.inference.services import inference_job_update

    request_id = request_id_of(request)
    try:
        caller = await caller_of(request)
        job = await sync_to_async(inference_job_get, thread_sensitive=False)(
            user_id=caller.user_id, public_id=request.path_params["job_id"]
        )
        slug, version = job.model.slug, job.version.version  # loaded with the job; refresh_from_db drops them
        if not job.is_terminal:
            gw = gateway(request)
            listing = await gw.directory.listing(slug)
            target = listing.versions.get(version) if listing else None
            if target is not None:
                ctx = CallContext(
                    session=gw.session,
                    deadline=time.monotonic() + 30,
                    request_id=request_id,
                    platform_credentials=gw.platform_credentials,
                )
                provider = provider_for(target.provider)
                ref = JobRef(job.provider_job_id, "processing", job.provider_urls)
                status = await (
                    provider.job_cancel(target, ref, ctx) if cancel else provider.job_status(target, ref, ctx)
                )
                job = await sync_to_async(inference_job_update, thread_sensitive=False)(
                    job=job,
                    status=status.status,
                    output=adapters.task_output(target, status.output)
                    if status.status == "succeeded"
                    else status.output,
                    error=status.error or "",
                    usage=status.usage,
                )
        return JSONResponse(_job_body(job, slug, version), headers={"X-Request-ID": request_id})
    except (ApplicationError, ProviderError) as error:
        return error_response(error, request_id)

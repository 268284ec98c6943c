"""The gateway: a lean Starlette application for the hot path (DESIGN.md, "The gateway tier").

    POST /api/v1/models/{slug}/inference     native call (JSON, or SSE with "stream": true; 202 for long jobs)
    GET  /api/v1/inference/{id}              a long job's status
    POST /api/v1/inference/{id}/cancel       cancel it
    GET  /v1/models                          OpenAI-compatible: the models this key may call
    POST /v1/chat/completions                OpenAI-compatible chat, with and without streaming

`config/asgi.py` sends these paths here and everything else to Django; `build_app()` also runs on its own
(`granian --interface asgi modelmarket.inference.gateway.asgi:application`) to scale the gateway apart."""

from __future__ import annotations

import gc
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from modelmarket.core.exceptions import (
    ApplicationError,
    BadRequest,
    PayloadTooLarge,
    RateLimited,
    ValidationFailed,
)
from modelmarket.core.ratelimit import client_address
from modelmarket.inference import adapters
from modelmarket.inference.gateway import calls
from modelmarket.inference.gateway.credit import worst_case_usage
from modelmarket.inference.gateway.metering import UsageMeter
from modelmarket.inference.gateway.pipeline import Call, Caller, Gateway, random_hex
from modelmarket.inference.gateway.schemas import ChatCompletionIn, InferenceIn
from modelmarket.inference.providers import provider_for
from modelmarket.inference.providers.base import (
    CallContext,
    InferenceCall,
    InferenceResult,
    JobRef,
    ProviderError,
    StreamChunk,
    Target,
    Usage,
)
from modelmarket.inference.providers.validation import input_validate
from modelmarket.usage.events import UsageStatus

logger = logging.getLogger("modelmarket.gateway")


class JSONResponse(Response):
    """A JSON answer, encoded with orjson (several times faster than the standard library on the hot path), its
    headers encoded here in one pass: Starlette's `init_headers` (a lowercased copy and a scan of every header for
    the content type and length) cost a call more than encoding the body."""

    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.background = None
        self.body = orjson.dumps(content)
        self.raw_headers = [
            (b"content-length", str(len(self.body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]
        if headers:
            self.raw_headers.extend(
                (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
            )


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INFERENCE_SCOPE = "inference"


# --- Errors, in our envelope or OpenAI's ---------------------------------------------------------------------------
def _status_and_body(error: ApplicationError | ProviderError) -> tuple[int, str, str, dict[str, Any]]:
    if isinstance(error, ProviderError):
        return (
            error.status,
            error.code,
            error.message,
            {k: v for k, v in error.details.items() if k != "usage"},
        )
    return error.status_code, error.code, error.message, error.details


def error_response(
    error: ApplicationError | ProviderError, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    status, code, message, details = _status_and_body(error)
    headers = {**(headers or {}), "X-Request-ID": request_id}
    _retry_after(error, headers)
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status, headers=headers
    )


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_response(
    error: ApplicationError | ProviderError, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    status, code, message, details = _status_and_body(error)
    param = details.get("param") if isinstance(details.get("param"), str) else None
    body = {
        "error": {
            "message": message,
            "type": _OPENAI_TYPES.get(status, "api_error"),
            "param": param,
            "code": code,
        }
    }
    headers = {**(headers or {}), "X-Request-ID": request_id}
    _retry_after(error, headers)
    return JSONResponse(body, status, headers=headers)


def _retry_after(error: ApplicationError | ProviderError, headers: dict[str, str]) -> None:
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    elif isinstance(error, ProviderError) and error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))


# --- Request helpers --------------------------------------------------------------------------------------------------
def headers_of(request: Request) -> dict[str, str]:
    """The request's headers as a dict, the first of repeated ones winning (as `dict(request.headers)` has it):
    built once per request, straight from the ASGI scope."""
    headers: dict[str, str] | None = request.scope.get("modelmarket.headers")
    if headers is None:
        headers = request.scope["modelmarket.headers"] = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in reversed(request.scope["headers"])
        }
    return headers


def request_id_of(request: Request) -> str:
    sent = headers_of(request).get("x-request-id", "")
    return sent if 0 < len(sent) <= 200 and sent.isprintable() else random_hex()


async def read_json(request: Request) -> Any:
    """The body as JSON, refusing more than GATEWAY_MAX_REQUEST_BYTES before reading further."""
    limit = settings.GATEWAY_MAX_REQUEST_BYTES
    declared = headers_of(request).get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.", details={"max_bytes": limit})
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(
                f"The request body is larger than {limit} bytes.", details={"max_bytes": limit}
            )
    request.state.body_bytes = len(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("The request body is not valid JSON.", code="malformed_json") from exc


def parse(model: type[Any], data: Any) -> Any:
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.", code="malformed_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"location": [str(part) for part in error["loc"]], "message": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        first = errors[0]["location"] if errors else []
        raise ValidationFailed(details={"errors": errors, "param": ".".join(first)}) from None


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def caller_of(request: Request) -> Caller:
    headers = headers_of(request)
    peer = request.client.host if request.client else ""
    client = client_address(peer, headers.get("x-forwarded-for", ""))
    cookies = request.cookies if "cookie" in headers else {}  # parsed only when sent
    return await gateway(request).caller(headers, cookies, request.method, INFERENCE_SCOPE, client)


# --- Native API -------------------------------------------------------------------------------------------------
async def native_inference(request: Request) -> Response:
    request_id = request_id_of(request)
    call: Call | None = None
    try:
        caller = await caller_of(request)
        payload: InferenceIn = parse(InferenceIn, await read_json(request))
        gw = gateway(request)
        listing = await gw.listing(caller, request.path_params["slug"])
        call = Call(
            gw, caller, listing, gw.target(caller, listing, payload.version), request_id, payload.stream
        )
        await gw.admit(
            call,
            worst_case=lambda: _worst_case(call, request, _max_output_tokens(payload.parameters)),
        )
        try:
            input_validate(call.target, payload.input)
        except ProviderError as error:
            call.fail(error)
            raise

        def inference(target: Target) -> InferenceCall:
            # Per target: a fallback version may sit behind another provider, with its own input shape.
            value = adapters.provider_input(target, payload.input)
            return InferenceCall(input=value, parameters=payload.parameters, stream=payload.stream)

        if payload.stream:
            return await _native_stream(call, inference)
        result: InferenceResult = await calls.call_provider(
            call, lambda provider, target: provider.infer(target, inference(target), call.context())
        )
        call.mark_first_byte()
        if result.job is not None:
            return await _job_accepted(call, result.job)
        try:
            output = adapters.task_output(call.target, result.output)
        except ProviderError as error:
            call.fail(error)
            raise
        call.finish(UsageStatus.SUCCEEDED, usage=result.usage)
        return JSONResponse(_native_body(call, output, result.usage), headers=_headers(call, request_id))
    except (ApplicationError, ProviderError) as error:
        return error_response(error, request_id, call.headers() if call else None)
    except Exception:
        _finish_after_fault(call)
        raise


def _finish_after_fault(call: Call | None) -> None:
    """A call our own code failed (answered 500 by `_server_error`) is still metered once, costs nothing and gives
    its credit reservation back."""
    if call is not None:
        call.finish(UsageStatus.SERVER_ERROR, http_status=500, error_code="server_error")


def _max_output_tokens(parameters: dict[str, Any]) -> Any:
    return (
        parameters.get("max_tokens")
        or parameters.get("max_new_tokens")
        or parameters.get("max_completion_tokens")
    )


def _worst_case(call: Call, request: Request, max_output_tokens: Any) -> Usage:
    """Bounds for the credit reservation; the request body (already read) bounds the input's tokens."""
    seconds = min(
        call.listing.timeout_seconds or settings.GATEWAY_TIMEOUT_SECONDS, settings.GATEWAY_TIMEOUT_SECONDS
    )
    input_bytes = getattr(request.state, "body_bytes", settings.GATEWAY_MAX_REQUEST_BYTES)
    return worst_case_usage(input_bytes=input_bytes, max_output_tokens=max_output_tokens, seconds=seconds)


def _headers(call: Call, request_id: str) -> dict[str, str]:
    return {**call.headers(), "X-Request-ID": request_id}


def _usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "compute_ms": usage.compute_ms,
        "tokens_reported": usage.reported,
    }


def _native_body(call: Call, output: Any, usage: Usage) -> dict[str, Any]:
    return {
        "id": call.id,
        "model": call.listing.slug,
        "version": call.target.version,
        "provider": call.target.provider,
        "output": output,
        "usage": _usage_body(usage),
        "cost": {"amount_minor": call.cost_minor, "currency": call.currency},
        "latency_ms": call.latency_ms(),
    }


async def _native_stream(call: Call, inference: Callable[[Target], InferenceCall]) -> Response:
    iterator, first = await calls.open_stream(
        call, lambda provider, target: provider.infer_stream(target, inference(target), call.context())
    )

    def render(chunk: StreamChunk) -> tuple[list[bytes], str, Usage | None]:
        frames = [calls.sse({"delta": chunk.delta}, "delta")] if chunk.delta else []
        return frames, chunk.delta, chunk.usage

    def render_end(usage: Usage) -> list[bytes]:
        return [calls.sse(_native_body(call, None, usage) | {"output": None}, "done")]

    def render_error(error: ProviderError) -> bytes:
        return calls.sse({"error": {"code": error.code, "message": error.message}}, "error")

    body = calls.metered_stream(
        call,
        iterator,
        first,
        render=render,
        render_error=render_error,
        render_end=render_end,
        delivered=calls.DeliveredCount(json.dumps(inference(call.target).input)),
    )
    return StreamingResponse(
        body, media_type="text/event-stream", headers={**SSE_HEADERS, **_headers(call, call.request_id)}
    )


async def _job_accepted(call: Call, job: JobRef) -> Response:
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
        headers=_headers(call, call.request_id),
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


# --- OpenAI-compatible API --------------------------------------------------------------------------------------
async def openai_models(request: Request) -> Response:
    from modelmarket.inference.selectors import gateway_callable_models

    request_id = request_id_of(request)
    try:
        caller = await caller_of(request)
        rows = await sync_to_async(
            lambda: [
                {
                    "id": model.slug,
                    "object": "model",
                    "created": int(model.created_at.timestamp()),
                    "owned_by": model.creator.public_name,
                }
                for model in gateway_callable_models(user_id=caller.user_id)
            ],
            thread_sensitive=False,
        )()
        return JSONResponse({"object": "list", "data": rows}, headers={"X-Request-ID": request_id})
    except ApplicationError as error:
        return openai_error_response(error, request_id)


async def openai_chat(request: Request) -> Response:
    request_id = request_id_of(request)
    call: Call | None = None
    try:
        caller = await caller_of(request)
        payload: ChatCompletionIn = parse(ChatCompletionIn, await read_json(request))
        slug, _, version = payload.model.partition("@")
        gw = gateway(request)
        listing = await gw.listing(caller, slug)
        call = Call(
            gw, caller, listing, gw.target(caller, listing, version or None), request_id, payload.stream
        )
        await gw.admit(
            call,
            worst_case=lambda: _worst_case(
                call, request, payload.max_completion_tokens or payload.max_tokens
            ),
        )
        body = payload.model_dump(exclude_none=True, exclude={"stream_options"})
        if payload.stream:
            include_usage = bool(payload.stream_options and payload.stream_options.include_usage)
            return await _chat_stream(call, body, include_usage)
        completion: dict[str, Any] = await calls.call_provider(
            call, lambda provider, target: provider.chat(target, body, call.context())
        )
        call.mark_first_byte()
        usage = _chat_usage(completion)
        call.finish(UsageStatus.SUCCEEDED, usage=usage)
        completion["model"] = listing.slug if not version else payload.model
        return JSONResponse(completion, headers=_headers(call, request_id))
    except (ApplicationError, ProviderError) as error:
        return openai_error_response(error, request_id, call.headers() if call else None)
    except Exception:
        _finish_after_fault(call)
        raise


def _chat_usage(item: dict[str, Any]) -> Usage | None:
    usage = item.get("usage")
    if not isinstance(usage, dict):
        return None
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        reported=not bool(usage.get("estimated")),
    )


async def _chat_stream(call: Call, body: dict[str, Any], include_usage: bool) -> Response:
    iterator, first = await calls.open_stream(
        call, lambda provider, target: provider.chat_stream(target, body | {"stream": True}, call.context())
    )
    prompt = " ".join(str(message.get("content") or "") for message in body["messages"])

    def render(chunk: dict[str, Any]) -> tuple[list[bytes], str, Usage | None]:
        chunk["model"] = call.listing.slug
        usage = _chat_usage(chunk)
        text = "".join(
            str((choice.get("delta") or {}).get("content") or "") for choice in chunk.get("choices") or []
        )
        if usage is not None and not chunk.get("choices") and not include_usage:
            return [], text, usage
        if usage is not None and not include_usage:
            chunk = {key: value for key, value in chunk.items() if key != "usage"}
        return [calls.sse(chunk)], text, usage

    def render_error(error: ProviderError) -> bytes:
        return calls.sse(
            {"error": {"message": error.message, "type": "api_error", "param": None, "code": error.code}}
        )

    stream = calls.metered_stream(
        call,
        iterator,
        first,
        render=render,
        render_error=render_error,
        render_end=lambda usage: [calls.sse("[DONE]")],
        delivered=calls.DeliveredCount(prompt),
    )
    return StreamingResponse(
        stream, media_type="text/event-stream", headers={**SSE_HEADERS, **_headers(call, call.request_id)}
    )


# --- The application ------------------------------------------------------------------------------------------------
def _redis_client() -> Any | None:
    if not settings.REDIS_URL:
        return None
    from modelmarket.core.redis import AsyncRedis

    return AsyncRedis.from_url(settings.REDIS_URL, timeout=2, connect_timeout=5)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    service = Gateway(redis=_redis_client(), meter=UsageMeter())
    await service.start()
    app.state.gateway = service
    # What is loaded by now (Django, the app, the warm caches) lives as long as the worker: kept out of the cycle
    # collector's passes, whose full sweeps over ~110,000 objects paused a worker for up to 57 ms (measured). Start-up's
    # garbage is collected first, not frozen with it.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        await service.stop()


ROUTES = [
    Route("/api/v1/models/{slug}/inference", native_inference, methods=["POST"]),
    Route("/api/v1/inference/{job_id}", job_detail, methods=["GET"]),
    Route("/api/v1/inference/{job_id}/cancel", job_cancel, methods=["POST"]),
    Route("/v1/models", openai_models, methods=["GET"]),
    Route("/v1/chat/completions", openai_chat, methods=["POST"]),
]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    codes = {404: ("not_found", "No such endpoint."), 405: ("method_not_allowed", "Method not allowed here.")}
    code, message = codes.get(status, ("bad_request", "The request could not be processed."))
    error = ApplicationError(message, code=code, status_code=status)
    render = openai_error_response if request.url.path.startswith("/v1/") else error_response
    return render(error, request_id_of(request))


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.exception("gateway error", exc_info=exc)
    error = ApplicationError("Something went wrong on our side.", code="server_error", status_code=500)
    render = openai_error_response if request.url.path.startswith("/v1/") else error_response
    return render(error, request_id_of(request))


class GatewayApplication(Starlette):
    """A Starlette application that sends the calls themselves (POST /v1/chat/completions and POST
    /api/v1/models/{slug}/inference) straight to their endpoints: Starlette's error middleware, exception
    middleware, router and route wrap every request in five layers, which cost a call about as much CPU as the rest of
    our own request handling. Same behaviour: the same endpoints and the same error handlers (an HTTPException answered
    by `_http_error`; any other exception answered 500 by `_server_error`, then re-raised to the server, as
    Starlette's ServerErrorMiddleware does). Everything else, lifespan included, goes through Starlette."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        endpoint = _direct_endpoint(scope)
        if endpoint is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        scope.setdefault("router", self.router)
        scope["endpoint"], scope["path_params"] = endpoint
        request = Request(scope, receive, send)
        try:
            response = await endpoint[0](request)
        except HTTPException as exc:
            response = await _http_error(request, exc)
        except Exception as exc:
            await (await _server_error(request, exc))(scope, receive, send)
            raise
        try:
            await response(scope, receive, send)
        except Exception as exc:
            # Raised once the response began (its first send): logged by the handler, nothing more sent.
            await _server_error(request, exc)
            raise


_NATIVE_PREFIX, _NATIVE_SUFFIX = "/api/v1/models/", "/inference"


def _direct_endpoint(scope: Any) -> tuple[Callable[[Request], Any], dict[str, str]] | None:
    """The endpoint and path parameters of a call that Starlette's router would send there, else None."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
        return None
    path = scope["path"]
    if path == "/v1/chat/completions":
        return openai_chat, {}
    if path.startswith(_NATIVE_PREFIX) and path.endswith(_NATIVE_SUFFIX):
        slug = path[len(_NATIVE_PREFIX) : -len(_NATIVE_SUFFIX)]
        if slug and "/" not in slug:
            return native_inference, {"slug": slug}
    return None


def build_app() -> GatewayApplication:
    return GatewayApplication(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )

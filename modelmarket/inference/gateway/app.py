"""The gateway: a lean Starlette application for the hot path (DESIGN.md, "The gateway tier").

    POST /api/v1/models/{slug}/inference     native call (JSON, or SSE with "stream": true; 202 for long jobs)
    GET  /api/v1/inference/{id}              a long job's status
    POST /api/v1/inference/{id}/cancel       cancel it
    GET  /v1/models                          OpenAI-compatible: the models this key may call
    POST /v1/chat/completions                OpenAI-compatible chat, with and without streaming

`config/asgi.py` sends these paths here and everything else to Django; `build_app()` also runs on its own
(`granian --interface asgi modelmarket.inference.gateway.asgi:application`) to scale the gateway apart. Reading
requests and writing answers and errors: `http.py`; the long-job endpoints: `jobs.py`."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from modelmarket.core.exceptions import ApplicationError
from modelmarket.inference import adapters
from modelmarket.inference.gateway import calls
from modelmarket.inference.gateway.credit import worst_case_usage
from modelmarket.inference.gateway.http import (
    SSE_HEADERS,
    JSONResponse,
    call_headers,
    caller_of,
    error_response,
    gateway,
    openai_error_response,
    parse,
    read_json,
    request_id_of,
)
from modelmarket.inference.gateway.jobs import job_accepted, job_cancel, job_detail
from modelmarket.inference.gateway.metering import UsageMeter
from modelmarket.inference.gateway.pipeline import Call, Gateway
from modelmarket.inference.gateway.schemas import ChatCompletionIn, InferenceIn
from modelmarket.inference.providers.base import (
    InferenceCall,
    InferenceResult,
    ProviderError,
    StreamChunk,
    Target,
    Usage,
)
from modelmarket.inference.providers.validation import input_validate
from modelmarket.usage.events import UsageStatus

logger = logging.getLogger("modelmarket.gateway")


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
            return await job_accepted(call, result.job)
        try:
            output = adapters.task_output(call.target, result.output)
        except ProviderError as error:
            call.fail(error)
            raise
        call.finish(UsageStatus.SUCCEEDED, usage=result.usage)
        return JSONResponse(_native_body(call, output, result.usage), headers=call_headers(call, request_id))
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
        body, media_type="text/event-stream", headers={**SSE_HEADERS, **call_headers(call, call.request_id)}
    )


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
        return JSONResponse(completion, headers=call_headers(call, request_id))
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
        stream, media_type="text/event-stream", headers={**SSE_HEADERS, **call_headers(call, call.request_id)}
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

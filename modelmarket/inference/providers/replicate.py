"""Replicate as an inference upstream (see /work/shared/reference/apis.md, "Replicate").

Every call creates a prediction: `POST /v1/predictions {"version", "input"}` when the listing's runtime names a
`version_id`, else `POST /v1/models/{owner}/{name}/predictions {"input"}` (official models run their current
version). `Authorization: Bearer <token>`: the listing's creator secret, else the platform's REPLICATE_API_TOKEN.

- `infer` asks Replicate to hold the create request (`Prefer: wait=N`, N = the whole seconds left less a margin,
  1 to 60). A prediction that finished is the answer; one still `starting`/`processing` comes back as
  `result.job`, which the gateway answers with 202 and follows through `job_status` / `job_cancel`.
- `chat` is synchronous for its caller: it waits as above, then polls `urls.get` (0.25 s growing to 2 s) until the
  prediction ends. When the deadline comes first it cancels the prediction (Replicate bills running time) and
  raises UpstreamTimeout.
- `infer_stream` / `chat_stream` create with `"stream": true` and read the SSE stream at `urls.stream` (`output`
  text, `error` JSON, `done`). A caller that goes away (the iterator is closed early), a stream cut off before
  `done` and the deadline all cancel the prediction. Errors raised after the stream opened carry the counted usage
  of what was delivered in `details["usage"]` (a `Usage`), so the gateway meters the delivered part.

Usage: `compute_ms` is `metrics.predict_time` (Replicate bills hardware seconds); tokens are
`metrics.input_token_count` / `output_token_count` when Replicate reports them (language models), else counted
with `count_tokens` from the text of the input and output (URIs are not text).

Our token is only sent to REPLICATE_API_BASE's origin, and streams also to Replicate's own streaming hosts: URLs
in an answer that point elsewhere are replaced by the documented paths (get, cancel) or refused (stream)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, ClassVar, Literal, cast
from urllib.parse import quote, urlsplit

from django.conf import settings

from modelmarket.inference.providers._http import Sent, SseEvent, fetch_json, sse_events, upstream_request
from modelmarket.inference.providers.base import (
    CallContext,
    InferenceCall,
    InferenceResult,
    InvalidInput,
    JobRef,
    JobStatus,
    NotSupported,
    ProviderError,
    StreamChunk,
    Target,
    UpstreamBadResponse,
    UpstreamFailed,
    UpstreamTimeout,
    Usage,
    count_tokens,
)

logger = logging.getLogger(__name__)

VENDOR = "Replicate"
MAX_WAIT_SECONDS = 60  # the most Replicate holds a create request open (`Prefer: wait=N`)
# Asked to hold a little less than the time left, so that its answer (with the prediction's id, which a cancel
# needs) arrives before our deadline: a create that times out leaves a running prediction we cannot cancel.
WAIT_MARGIN_SECONDS = 0.5
POLL_FIRST_DELAY_SECONDS = 0.25
POLL_MAX_DELAY_SECONDS = 2.0
CANCEL_TIMEOUT_SECONDS = 5.0  # a cancel is sent also after the call's deadline, on its own short budget
METRICS_TIMEOUT_SECONDS = 5.0
# Replicate serves `urls.stream` from its own hosts (stream.replicate.com, *.replicate.net), not from the API host.
STREAM_HOST_SUFFIXES = (".replicate.com", ".replicate.net")
MODEL_ID = re.compile(r"^(?!\.{1,2}/)[A-Za-z0-9_.-]+/(?!\.{1,2}$)[A-Za-z0-9_.-]+$")
RUNNING = frozenset({"starting", "processing"})
# `aborted`: the prediction was ended before it started (its deadline passed in Replicate's queue).
CANCELED = frozenset({"canceled", "aborted"})
# OpenAI chat parameters → the input names Replicate's language models use, in order of preference.
CHAT_PARAMETERS: dict[str, tuple[str, ...]] = {
    "max_tokens": ("max_tokens", "max_new_tokens"),
    "max_completion_tokens": ("max_tokens", "max_new_tokens"),
    "temperature": ("temperature",),
    "top_p": ("top_p",),
    "stop": ("stop_sequences",),
    "seed": ("seed",),
}

# Cancels that outlive the task that asked for them (a caller cancelled mid-request); kept to stay referenced.
_cancels_in_flight: set[asyncio.Task[None]] = set()


class ProviderNotConfigured(ProviderError):
    """Neither the platform nor the listing's creator gave a credential (or the listing's runtime is unusable)."""

    status = 503
    code = "provider_not_configured"


class UpstreamCanceled(ProviderError):
    """The prediction was canceled upstream before it finished (from Replicate's side, or by its deadline)."""

    status = 502
    code = "upstream_canceled"


class ReplicateProvider:
    name: ClassVar[str] = "replicate"

    # --- Native calls -------------------------------------------------------------------------------------------
    async def infer(self, target: Target, call: InferenceCall, ctx: CallContext) -> InferenceResult:
        """Create the prediction and wait for it as long as Replicate and the deadline allow; an unfinished one is
        returned as `result.job` (output None, no usage yet)."""
        token = _token(target, ctx)
        prediction = await _create(target, native_input(call), ctx, token=token, wait=True)
        status = prediction["status"]
        if status in RUNNING:
            running = cast(Literal["starting", "processing"], status)
            job = JobRef(provider_job_id=prediction["id"], status=running, urls=_urls(prediction))
            return InferenceResult(output=None, usage=Usage(), job=job, upstream_request_id=prediction["id"])
        _raise_unless_succeeded(prediction)
        usage = prediction_usage(prediction, prediction.get("input"), prediction.get("output"))
        return InferenceResult(
            output=prediction.get("output"), usage=usage, upstream_request_id=prediction["id"]
        )

    async def infer_stream(
        self, target: Target, call: InferenceCall, ctx: CallContext
    ) -> AsyncIterator[StreamChunk]:
        token = _token(target, ctx)
        input_object = native_input(call)
        prediction = await _create(target, input_object, ctx, token=token, stream=True)
        async with aclosing(_stream(prediction, input_object, ctx, token=token)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def job_status(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus:
        token = _token(target, ctx)
        url = _api_url(job.urls.get("get"), fallback=f"/v1/predictions/{quote(job.provider_job_id, safe='')}")
        return _job_status(await _send(ctx, "GET", url, token=token))

    async def job_cancel(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus:
        token = _token(target, ctx)
        url = _cancel_url(job.provider_job_id, job.urls)
        return _job_status(await _send(ctx, "POST", url, token=token))

    # --- OpenAI-compatible calls --------------------------------------------------------------------------------
    async def chat(self, target: Target, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        token = _token(target, ctx)
        input_object = chat_input(target, body)
        prediction = await _create(target, input_object, ctx, token=token, wait=True)
        prediction = await _until_finished(prediction, ctx, token=token)
        _raise_unless_succeeded(prediction)
        text = output_text(prediction.get("output"))
        usage = prediction_usage(prediction, input_object, text)
        return {
            "id": f"chatcmpl-{prediction['id']}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or target.slug,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": openai_usage(usage),
        }

    async def chat_stream(
        self, target: Target, body: dict[str, Any], ctx: CallContext
    ) -> AsyncIterator[dict[str, Any]]:
        token = _token(target, ctx)
        input_object = chat_input(target, body)
        prediction = await _create(target, input_object, ctx, token=token, stream=True)
        head = {
            "id": f"chatcmpl-{prediction['id']}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or target.slug,
        }
        first = True
        async with aclosing(_stream(prediction, input_object, ctx, token=token)) as chunks:
            async for chunk in chunks:
                if chunk.usage is None:
                    delta = (
                        {"role": "assistant", "content": chunk.delta} if first else {"content": chunk.delta}
                    )
                    first = False
                    yield {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    continue
                yield {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield {**head, "choices": [], "usage": openai_usage(chunk.usage)}


# --- Inputs ---------------------------------------------------------------------------------------------------------
def native_input(call: InferenceCall) -> dict[str, Any]:
    """The prediction's `input`: a dict as given, a string as `{"prompt": s}`, a list of chat messages as
    `{"prompt", "system_prompt"}`. `call.parameters` are model inputs too on Replicate: added where the input does
    not set them."""
    value = call.input
    if isinstance(value, dict):
        input_object = dict(value)
    elif isinstance(value, str):
        input_object = {"prompt": value}
    elif isinstance(value, list):
        input_object = messages_input(value)
    else:
        raise InvalidInput("Replicate models take an object, a prompt string or a list of chat messages.")
    return {**call.parameters, **input_object}


def chat_input(target: Target, body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat body as the common Replicate language-model input: the messages as `prompt` and
    `system_prompt`, and the sampling parameters under the names the version's input schema uses (the first
    listed name when the schema lists no properties). A schema without `system_prompt` gets the system text at
    the head of the prompt."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("`messages` must be a non-empty list.")
    input_object = messages_input(messages)
    properties = target.input_schema.get("properties") or {}
    if properties and "system_prompt" in input_object and "system_prompt" not in properties:
        input_object["prompt"] = f"{input_object.pop('system_prompt')}\n\n{input_object['prompt']}"
    for openai_name, names in CHAT_PARAMETERS.items():
        value = body.get(openai_name)
        if value is None:
            continue
        name = next((name for name in names if name in properties), None) if properties else names[0]
        if name is None or name in input_object:
            continue
        if openai_name == "stop":
            value = ",".join([value] if isinstance(value, str) else [str(item) for item in value])
        input_object[name] = value
    return input_object


def messages_input(messages: list[Any]) -> dict[str, Any]:
    """`{"prompt": ..., "system_prompt": ...}` from chat messages. One user message is the prompt as it is; a
    conversation becomes a transcript ("User: ...", "Assistant: ...") ending with "Assistant:" for the reply."""
    system_parts, turns = [], []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidInput("Each message must be an object with a `role` and `content`.")
        text = _message_text(message.get("content"))
        if message["role"] in ("system", "developer"):
            system_parts.append(text)
        else:
            turns.append((message["role"], text))
    if len(turns) == 1 and turns[0][0] == "user":
        prompt = turns[0][1]
    else:
        lines = [f"{role.capitalize()}: {text}" for role, text in turns]
        prompt = "\n\n".join([*lines, "Assistant:"])
    input_object: dict[str, Any] = {"prompt": prompt}
    if system_parts:
        input_object["system_prompt"] = "\n\n".join(system_parts)
    return input_object


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts: only text reaches a text prompt
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    if content is None:
        return ""
    raise InvalidInput("Message `content` must be a string or a list of content parts.")


# --- Outputs and usage ----------------------------------------------------------------------------------------------
def output_text(output: Any) -> str:
    """A language model's output as one string: Replicate returns the streamed pieces as a list of strings."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(isinstance(piece, str) for piece in output):
        return "".join(output)
    return json.dumps(output)


def prediction_usage(prediction: dict[str, Any], input_value: Any, output_value: Any) -> Usage:
    """Compute from `metrics.predict_time` (seconds → ms); tokens from `metrics.input_token_count` and
    `output_token_count` when both are there, else counted from the text of `input_value` / `output_value`."""
    metrics = prediction.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    predict_time = metrics.get("predict_time")
    compute_ms = 0
    if isinstance(predict_time, int | float) and not isinstance(predict_time, bool) and predict_time > 0:
        compute_ms = round(predict_time * 1000)
    input_tokens, output_tokens = (
        _count(metrics.get("input_token_count")),
        _count(metrics.get("output_token_count")),
    )
    if input_tokens is not None and output_tokens is not None:
        return Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, compute_ms=compute_ms, reported=True
        )
    return Usage(
        input_tokens=count_tokens(_text_of(input_value)),
        output_tokens=count_tokens(_text_of(output_value)),
        compute_ms=compute_ms,
    )


def openai_usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def _text_of(value: Any) -> str:
    """The text in an input or output: strings (not URIs: files are not tokens), through lists and objects."""
    if isinstance(value, str):
        return "" if re.match(r"^(https?|data):", value) else value
    if isinstance(value, list):
        return "".join(_text_of(item) for item in value)
    if isinstance(value, dict):
        return "\n".join(text for text in (_text_of(item) for item in value.values()) if text)
    return ""


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


# --- Predictions ----------------------------------------------------------------------------------------------------
def _token(target: Target, ctx: CallContext) -> str:
    token = ctx.credential_for(target)
    if not token:
        raise ProviderNotConfigured(
            "Replicate is not configured: the operator must set REPLICATE_API_TOKEN, or the model's creator "
            "a Replicate API token secret."
        )
    return token


async def _create(
    target: Target,
    input_object: dict[str, Any],
    ctx: CallContext,
    *,
    token: str,
    wait: bool = False,
    stream: bool = False,
) -> dict[str, Any]:
    version_id = str(target.runtime.get("version_id") or "")
    body: dict[str, Any] = {"input": input_object}
    if version_id:
        path, body["version"] = "/v1/predictions", version_id
    else:
        model_id = str(target.runtime.get("model_id") or "")
        if not MODEL_ID.match(model_id):
            raise ProviderNotConfigured(f"The listing's Replicate model id is not owner/name: {model_id!r}.")
        owner, name = model_id.split("/")
        path = f"/v1/models/{quote(owner)}/{quote(name)}/predictions"
    if stream:
        body["stream"] = True
    headers = {}
    if wait:
        seconds = int(ctx.remaining() - WAIT_MARGIN_SECONDS)
        headers["Prefer"] = f"wait={max(1, min(MAX_WAIT_SECONDS, seconds))}"
    return await _send(
        ctx, "POST", settings.REPLICATE_API_BASE + path, token=token, body=body, headers=headers
    )


async def _send(
    ctx: CallContext,
    method: str,
    url: str,
    *,
    token: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """One request whose answer is a prediction."""
    sent = Sent(method, url, headers={"Authorization": f"Bearer {token}", **(headers or {})}, json_body=body)
    fetched = await fetch_json(ctx, sent, vendor=VENDOR, timeout_seconds=timeout_seconds)
    return _prediction(fetched.body)


def _prediction(data: Any) -> dict[str, Any]:
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not data["id"]
        or not isinstance(data.get("status"), str)
    ):
        raise UpstreamBadResponse("Replicate answered something that is not a prediction.")
    if data["status"] not in RUNNING | CANCELED | {"succeeded", "failed"}:
        raise UpstreamBadResponse(
            f"Replicate answered an unknown prediction status: {data['status'][:40]!r}."
        )
    return data


def _raise_unless_succeeded(prediction: dict[str, Any]) -> None:
    status = prediction["status"]
    if status == "succeeded":
        return
    usage = prediction_usage(prediction, prediction.get("input"), prediction.get("output"))
    details = {"prediction_id": prediction["id"], "usage": usage}
    if status == "failed":
        raise UpstreamFailed(f"The Replicate prediction failed: {_error_text(prediction)}", details=details)
    if status in CANCELED:
        raise UpstreamCanceled("The Replicate prediction was canceled before it finished.", details=details)
    raise UpstreamTimeout("The Replicate prediction did not finish in time.", details=details)


def _error_text(prediction: dict[str, Any]) -> str:
    error = prediction.get("error")
    if isinstance(error, str) and error:
        return error[:500]
    return json.dumps(error)[:500] if error else "no error message"


def _job_status(prediction: dict[str, Any]) -> JobStatus:
    status = prediction["status"]
    if status in RUNNING:
        return JobStatus(
            status=cast(Literal["starting", "processing"], status), output=prediction.get("output")
        )
    usage = prediction_usage(prediction, prediction.get("input"), prediction.get("output"))
    if status in CANCELED:
        return JobStatus(status="canceled", output=prediction.get("output"), usage=usage)
    error = _error_text(prediction) if status == "failed" else None
    final = cast(Literal["succeeded", "failed"], status)
    return JobStatus(status=final, output=prediction.get("output"), error=error, usage=usage)


async def _until_finished(prediction: dict[str, Any], ctx: CallContext, *, token: str) -> dict[str, Any]:
    """Poll `urls.get` until the prediction ends; at the deadline cancel it and raise UpstreamTimeout."""
    delay = POLL_FIRST_DELAY_SECONDS
    get_url = _api_url(
        _urls(prediction).get("get"), fallback=f"/v1/predictions/{quote(prediction['id'], safe='')}"
    )
    try:
        while prediction["status"] in RUNNING:
            await asyncio.sleep(min(delay, ctx.remaining()))
            delay = min(delay * 2, POLL_MAX_DELAY_SECONDS)
            ctx.remaining()
            prediction = await _send(ctx, "GET", get_url, token=token)
    except (ProviderError, asyncio.CancelledError):
        # Abandoned (deadline, a failed poll, the caller gone): stop the prediction, Replicate bills its time.
        await _cancel_quietly(prediction, ctx, token=token)
        raise
    return prediction


async def _cancel_quietly(prediction: dict[str, Any], ctx: CallContext, *, token: str) -> None:
    """Cancel on a budget of its own (the call's may be spent), never raising: the caller is already failing or
    gone. The request runs as a task of its own, so that a caller cancelled meanwhile does not cut it off."""
    cancel_ctx = CallContext(
        session=ctx.session,
        deadline=time.monotonic() + CANCEL_TIMEOUT_SECONDS,
        request_id=ctx.request_id,
        platform_credentials=ctx.platform_credentials,
    )
    url = _cancel_url(prediction["id"], _urls(prediction))

    async def cancel() -> None:
        try:
            await _send(cancel_ctx, "POST", url, token=token)
        except Exception as exc:  # best effort: the caller's own failure is what matters
            logger.warning("Could not cancel Replicate prediction %s: %s", prediction["id"], exc)

    task = asyncio.create_task(cancel())
    _cancels_in_flight.add(task)
    task.add_done_callback(_cancels_in_flight.discard)
    await asyncio.shield(task)


# --- Streams --------------------------------------------------------------------------------------------------------
async def _stream(
    prediction: dict[str, Any], input_object: dict[str, Any], ctx: CallContext, *, token: str
) -> AsyncGenerator[StreamChunk]:
    """Text deltas from the prediction's SSE stream, then one chunk with the usage. Unless the stream ended with
    `done` or `error`, the prediction is canceled on the way out (caller gone, stream cut, deadline)."""
    delivered: list[str] = []
    ended = prediction["status"] not in RUNNING
    try:
        if ended:  # finished (or failed) before we could listen: the prediction holds everything
            _raise_unless_succeeded(prediction)
            text = output_text(prediction.get("output"))
            if text:
                yield StreamChunk(delta=text)
            yield StreamChunk(usage=prediction_usage(prediction, input_object, text))
            return
        try:
            async with aclosing(_stream_events(prediction, ctx, token=token)) as events:
                async for event in events:
                    if event.event == "output":
                        delivered.append(event.data)
                        yield StreamChunk(delta=event.data)
                    elif event.event in ("error", "done"):
                        ended = True
                        _raise_for_end(event)
                        break
            if not ended:
                raise UpstreamBadResponse("Replicate closed the stream before it was done.")
        except ProviderError as exc:
            exc.details.setdefault("prediction_id", prediction["id"])
            exc.details.setdefault("usage", prediction_usage({}, input_object, "".join(delivered)))
            raise
        yield StreamChunk(usage=await _final_usage(prediction, input_object, "".join(delivered), ctx, token))
    finally:
        if not ended:
            await _cancel_quietly(prediction, ctx, token=token)


async def _stream_events(
    prediction: dict[str, Any], ctx: CallContext, *, token: str
) -> AsyncGenerator[SseEvent]:
    """The events at `urls.stream`; the response is released when the generator closes."""
    url = _stream_url(_urls(prediction).get("stream"))
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream", "Cache-Control": "no-store"}
    async with (
        upstream_request(ctx, Sent("GET", url, headers=headers), vendor=VENDOR) as response,
        aclosing(sse_events(response, vendor=VENDOR)) as events,
    ):
        async for event in events:
            yield event


def _raise_for_end(event: SseEvent) -> None:
    """`error` carries a JSON error; `done` is `{}` for a finished prediction, `{"reason": ...}` when it ended
    otherwise (`canceled`, `error`)."""
    if event.event == "error":
        raise UpstreamFailed(f"The Replicate prediction failed: {_stream_error(event.data)}")
    try:
        reason = json.loads(event.data).get("reason") if event.data.strip() else None
    except (ValueError, AttributeError):
        reason = None
    if reason in CANCELED:
        raise UpstreamCanceled("The Replicate prediction was canceled before it finished.")
    if reason:
        raise UpstreamFailed(f"The Replicate prediction ended early: {str(reason)[:100]}")


def _stream_error(data: str) -> str:
    try:
        error = json.loads(data)
    except ValueError:
        return data[:500]
    if isinstance(error, dict):
        for key in ("detail", "error", "message"):
            if isinstance(error.get(key), str):
                return str(error[key])[:500]
    return data[:500]


async def _final_usage(
    prediction: dict[str, Any], input_object: dict[str, Any], text: str, ctx: CallContext, token: str
) -> Usage:
    """The stream's usage: read once more for Replicate's metrics when that fits in the deadline; counted from the
    delivered text when it does not, or when the prediction is not final yet."""
    get_url = _api_url(
        _urls(prediction).get("get"), fallback=f"/v1/predictions/{quote(prediction['id'], safe='')}"
    )
    try:
        final = await _send(ctx, "GET", get_url, token=token, timeout_seconds=METRICS_TIMEOUT_SECONDS)
    except ProviderError:
        final = {}
    if final.get("status") != "succeeded":
        final = {}
    return prediction_usage(final, input_object, text)


# --- URLs -----------------------------------------------------------------------------------------------------------
def _urls(prediction: dict[str, Any]) -> dict[str, str]:
    urls = prediction.get("urls")
    if not isinstance(urls, dict):
        return {}
    return {
        key: value
        for key, value in urls.items()
        if key in ("get", "cancel", "stream") and isinstance(value, str)
    }


def _api_url(url: str | None, *, fallback: str) -> str:
    """`url` when it is on the API's own origin (our token goes with it), else the documented path."""
    base = urlsplit(settings.REPLICATE_API_BASE)
    if url:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
            return url
    return settings.REPLICATE_API_BASE + fallback


def _cancel_url(prediction_id: str, urls: dict[str, str]) -> str:
    return _api_url(urls.get("cancel"), fallback=f"/v1/predictions/{quote(prediction_id, safe='')}/cancel")


def _stream_url(url: str | None) -> str:
    if not url:
        raise NotSupported("Replicate offers no stream for this model.")
    parts, base = urlsplit(url), urlsplit(settings.REPLICATE_API_BASE)
    same_origin = (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
    replicate_host = parts.scheme == "https" and (parts.hostname or "").endswith(STREAM_HOST_SUFFIXES)
    if not (same_origin or replicate_host):
        raise UpstreamBadResponse(f"Replicate pointed the stream at another host: {parts.hostname}")
    return url

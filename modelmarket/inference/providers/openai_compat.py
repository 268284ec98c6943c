"""Any server that speaks OpenAI's chat completions API (vLLM, llama.cpp, Groq, OpenAI itself...).

Where it calls: `target.base_url or target.runtime["base_url"]` (normally ending in `/v1`) + `/chat/completions`,
with the upstream model id `target.runtime["model_id"]` and `Authorization: Bearer <credential>` when the listing
or the platform has one.

- `chat(body)` forwards the known OpenAI fields (see CHAT_FIELDS) and returns the upstream's `chat.completion`
  (the gateway rewrites `model` to the listing's slug). When the upstream sent no `usage`, it is counted
  (`count_tokens`) and added.
- `chat_stream(body)` always asks for `stream_options.include_usage` and yields the upstream's chunks; it always
  ends with a chunk carrying `usage` (the upstream's, else one counted from the prompt and the deltas delivered,
  with `choices: []`). A stream that ends without `data: [DONE]` or is cut mid-event raises UpstreamBadResponse
  after the chunks delivered; any ProviderError raised once the upstream began answering carries
  `details["usage"]`: the `Usage` of the part delivered (counted, unless the upstream had sent its own), for
  metering. Closing the iterator early releases the upstream response, which closes the connection and so
  cancels the upstream call.
- `infer(call)` (native calls): `call.input` is a prompt string (one user message), a list of messages, or an
  object with `messages` or `prompt` (plus optional `max_tokens`); `call.parameters` may set `max_tokens`,
  `temperature`, `top_p` and `stop` (other keys are ignored). The output is `{"text": <the reply>,
  "finish_reason": <the upstream's, e.g. "stop" or "length">}`. `infer_stream` yields text deltas, then one chunk
  with the usage.
- Jobs: not supported (chat answers within the call)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard

import orjson

from modelmarket.inference.providers._http import Sent, fetch_json, sse_events, upstream_request
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
    UpstreamRejected,
    Usage,
    count_tokens,
)

# The request fields we forward (OpenAI's chat completion body, reference/apis.md); `model`, `stream` and
# `stream_options` are ours to set.
CHAT_FIELDS = ("messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "user")
NATIVE_PARAMETERS = ("max_tokens", "temperature", "top_p", "stop")


# --- Token counting for upstreams that report no usage -----------------------------------------------------------
def _content_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _reply_text(choice: Any) -> str:
    message = choice.get("message") if isinstance(choice, dict) else None
    return _content_text(message.get("content")) if isinstance(message, dict) else ""


def prompt_tokens(messages: list[Any]) -> int:
    return sum(
        count_tokens(_content_text(message.get("content")))
        for message in messages
        if isinstance(message, dict)
    )


def openai_usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def usage_from_openai(usage: Any, *, reported: bool = True) -> Usage | None:
    """Our Usage from an OpenAI `usage` object; None when it is not one."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not (_is_count(prompt) and _is_count(completion)):
        return None
    return Usage(input_tokens=prompt, output_tokens=completion, reported=reported)


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --- Stream bookkeeping -------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _StreamState:
    """What a chat stream delivered so far: enough to count its usage and to close it with a usage chunk."""

    model: str
    input_tokens: int
    chunk_id: str = ""
    created: int = 0
    text_parts: list[str] = field(default_factory=list)
    upstream_usage: Usage | None = None
    last_had_usage: bool = False
    done: bool = False

    def observe(self, chunk: dict[str, Any]) -> None:
        self.chunk_id = str(chunk.get("id") or self.chunk_id)
        created = chunk.get("created")
        self.created = created if _is_count(created) else self.created
        self.model = str(chunk.get("model") or self.model)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                self.text_parts.append(delta["content"])
        reported = usage_from_openai(chunk.get("usage"))
        self.last_had_usage = reported is not None
        self.upstream_usage = reported or self.upstream_usage

    def usage(self) -> Usage:
        if self.upstream_usage is not None:
            return self.upstream_usage
        return Usage(input_tokens=self.input_tokens, output_tokens=count_tokens("".join(self.text_parts)))

    def usage_dict(self) -> dict[str, int]:
        usage = self.usage()
        return openai_usage(usage.input_tokens, usage.output_tokens)

    def usage_chunk(self) -> dict[str, Any]:
        return {
            "id": self.chunk_id or f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": self.created or int(time.time()),
            "model": self.model,
            "choices": [],
            "usage": self.usage_dict(),
        }


def _parse_chunk(data: str, vendor: str) -> dict[str, Any]:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamBadResponse(f"{vendor} sent a stream event that is not JSON.") from None
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices", []), list):
        raise UpstreamBadResponse(f"{vendor} sent a stream event that is not a chat completion chunk.")
    return chunk


# --- Native input -------------------------------------------------------------------------------------------------
def native_chat_body(call: InferenceCall) -> dict[str, Any]:
    """An OpenAI chat body from a native call (see the module docstring for the accepted shapes)."""
    value, extra = call.input, dict[str, Any]()
    if isinstance(value, dict):
        extra = {"max_tokens": value["max_tokens"]} if "max_tokens" in value else {}
        value = value.get("messages", value.get("prompt"))
    if isinstance(value, str) and value:
        messages: Any = [{"role": "user", "content": value}]
    elif isinstance(value, list) and value and all(isinstance(message, dict) for message in value):
        messages = value
    else:
        raise InvalidInput("Send a prompt (a string) or a list of chat messages.")
    parameters = {name: call.parameters[name] for name in NATIVE_PARAMETERS if name in call.parameters}
    return {"messages": messages, **extra, **parameters}


class OpenAICompatibleProvider:
    name: ClassVar[str] = "openai_compatible"
    vendor: ClassVar[str] = "The OpenAI-compatible server"

    # --- Where and how to call (subclasses point elsewhere) ------------------------------------------------------
    def chat_url(self, target: Target) -> str:
        base = target.base_url or str(target.runtime.get("base_url") or "")
        if not base:
            raise UpstreamRejected("This listing has no upstream URL.")
        return f"{base.rstrip('/')}/chat/completions"

    def upstream_model(self, target: Target) -> str:
        model = target.runtime.get("model_id")
        if not isinstance(model, str) or not model:
            raise UpstreamRejected("This listing names no upstream model (runtime model_id).")
        return model

    def headers(self, target: Target, ctx: CallContext, *, stream: bool) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        credential = ctx.credential_for(target)
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        return headers

    def chat_payload(self, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise InvalidInput("messages must be a non-empty list of chat messages.")
        payload = {name: body[name] for name in CHAT_FIELDS if name in body}
        payload["model"] = self.upstream_model(target)
        return payload

    # --- Chat -------------------------------------------------------------------------------------------------------
    async def _complete(
        self, target: Target, body: dict[str, Any], ctx: CallContext
    ) -> tuple[dict[str, Any], Usage, str]:
        """The upstream's chat.completion (usage added when it had none), our Usage of it, its request id."""
        payload = self.chat_payload(target, body)
        sent = Sent("POST", self.chat_url(target), self.headers(target, ctx, stream=False), payload)
        fetched = await fetch_json(ctx, sent, vendor=self.vendor)
        completion, request_id = fetched.body, fetched.headers.get("x-request-id", "")
        choices = completion.get("choices") if isinstance(completion, dict) else None
        if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
            raise UpstreamBadResponse(f"{self.vendor} answered something that is not a chat completion.")
        usage = usage_from_openai(completion.get("usage"))
        if usage is None:
            text = "".join(_reply_text(choice) for choice in choices)
            usage = Usage(input_tokens=prompt_tokens(payload["messages"]), output_tokens=count_tokens(text))
            completion["usage"] = openai_usage(usage.input_tokens, usage.output_tokens)
        return completion, usage, request_id

    async def chat(self, target: Target, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        completion, _, _ = await self._complete(target, body, ctx)
        return completion

    async def chat_stream(
        self, target: Target, body: dict[str, Any], ctx: CallContext
    ) -> AsyncGenerator[dict[str, Any], None]:
        payload = self.chat_payload(target, body)
        state = _StreamState(model=payload["model"], input_tokens=prompt_tokens(payload["messages"]))
        async with aclosing(self._stream_chunks(target, payload, ctx, state)) as chunks:
            async for chunk in chunks:
                yield chunk
        if not state.last_had_usage:
            yield state.usage_chunk()

    async def _stream_chunks(
        self, target: Target, payload: dict[str, Any], ctx: CallContext, state: _StreamState
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The upstream's chunks up to [DONE], recorded in `state`; errors after the answer began carry the usage
        of what was delivered."""
        payload = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        sent = Sent("POST", self.chat_url(target), self.headers(target, ctx, stream=True), payload)
        answering = False
        try:
            async with upstream_request(ctx, sent, vendor=self.vendor) as response:
                answering = True
                async with aclosing(sse_events(response, vendor=self.vendor)) as events:
                    async for event in events:
                        if event.data.strip() == "[DONE]":
                            state.done = True
                            break
                        chunk = _parse_chunk(event.data, self.vendor)
                        state.observe(chunk)
                        yield chunk
            if not state.done:
                raise UpstreamBadResponse(f"{self.vendor} ended the stream without [DONE].")
        except ProviderError as exc:
            if answering:
                exc.details.setdefault("usage", state.usage())
            raise

    # --- Native calls -----------------------------------------------------------------------------------------------
    async def infer(self, target: Target, call: InferenceCall, ctx: CallContext) -> InferenceResult:
        completion, usage, request_id = await self._complete(target, native_chat_body(call), ctx)
        choice = completion["choices"][0] if completion["choices"] else {}
        output = {"text": _reply_text(choice), "finish_reason": choice.get("finish_reason")}
        return InferenceResult(output=output, usage=usage, upstream_request_id=request_id)

    async def infer_stream(
        self, target: Target, call: InferenceCall, ctx: CallContext
    ) -> AsyncGenerator[StreamChunk, None]:
        payload = self.chat_payload(target, native_chat_body(call))
        state = _StreamState(model=payload["model"], input_tokens=prompt_tokens(payload["messages"]))
        async with aclosing(self._stream_chunks(target, payload, ctx, state)) as chunks:
            async for chunk in chunks:
                delta = "".join(
                    choice["delta"]["content"]
                    for choice in chunk.get("choices") or ()
                    if isinstance(choice, dict)
                    and isinstance(choice.get("delta"), dict)
                    and isinstance(choice["delta"].get("content"), str)
                )
                if delta:
                    yield StreamChunk(delta=delta)
        yield StreamChunk(usage=state.usage())

    # --- Jobs -------------------------------------------------------------------------------------------------------
    async def job_status(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus:
        raise NotSupported("OpenAI-compatible servers answer within the call; there are no jobs.")

    async def job_cancel(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus:
        raise NotSupported("OpenAI-compatible servers answer within the call; there are no jobs.")

"""Hugging Face inference through its router (`settings.HUGGINGFACE_INFERENCE_BASE`).

- Chat models (`target.task` "chat" or "text-generation"): the router's OpenAI-compatible
  `/v1/chat/completions` with model `runtime["model_id"]`; everything `OpenAICompatibleProvider` does (usage
  counting, stream endings, cut streams) applies unchanged.
- Other tasks: `POST /hf-inference/models/{model_id}` with `{"inputs": call.input, "parameters":
  call.parameters}`; the output is the upstream's JSON as is (e.g. text-classification
  `[[{"label", "score"}]]`). Usage counts the input's tokens when it is text and the call's wall time as
  `compute_ms` (not reported by the upstream). Streaming them is not supported.
- A 503 "model is currently loading" becomes UpstreamUnavailable with `retry_after` from its `estimated_time`.
- Credentials: the listing's own, else the platform's HUGGINGFACE_TOKEN, which the gateway passes as
  `ctx.platform_credentials["huggingface"]`."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, ClassVar

from django.conf import settings

from modelmarket.inference.providers._http import Sent, fetch_json
from modelmarket.inference.providers.base import (
    CallContext,
    InferenceCall,
    InferenceResult,
    NotSupported,
    StreamChunk,
    Target,
    UpstreamRejected,
    Usage,
    count_tokens,
)
from modelmarket.inference.providers.openai_compat import OpenAICompatibleProvider

CHAT_TASKS = ("chat", "text-generation")
# "owner/name" (or a bare name); it becomes a URL path, so nothing that could climb out of /models/.
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


def _text_tokens(value: Any) -> int:
    if isinstance(value, str):
        return count_tokens(value)
    if isinstance(value, list):
        return sum(count_tokens(item) for item in value if isinstance(item, str))
    return 0


class HuggingFaceProvider(OpenAICompatibleProvider):
    name: ClassVar[str] = "huggingface"
    vendor: ClassVar[str] = "Hugging Face"

    def chat_url(self, target: Target) -> str:
        return f"{settings.HUGGINGFACE_INFERENCE_BASE}/v1/chat/completions"

    def task_url(self, target: Target) -> str:
        model = self.upstream_model(target)
        if not MODEL_ID.match(model) or ".." in model:
            raise UpstreamRejected("This listing's Hugging Face model id is not an owner/name id.")
        return f"{settings.HUGGINGFACE_INFERENCE_BASE}/hf-inference/models/{model}"

    def chat_payload(self, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        """Every chat path (chat, chat_stream, infer and infer_stream of chat models) builds its body here."""
        if target.task not in CHAT_TASKS:
            raise NotSupported(f"Chat is not available for a {target.task} model.")
        return super().chat_payload(target, body)

    async def infer(self, target: Target, call: InferenceCall, ctx: CallContext) -> InferenceResult:
        if target.task in CHAT_TASKS:
            return await super().infer(target, call, ctx)
        sent = Sent(
            "POST",
            self.task_url(target),
            self.headers(target, ctx, stream=False),
            {"inputs": call.input, "parameters": call.parameters},
        )
        started = time.monotonic()
        fetched = await fetch_json(ctx, sent, vendor=self.vendor)
        output, request_id = fetched.body, fetched.headers.get("x-request-id", "")
        usage = Usage(
            input_tokens=_text_tokens(call.input), compute_ms=round((time.monotonic() - started) * 1000)
        )
        return InferenceResult(output=output, usage=usage, upstream_request_id=request_id)

    async def infer_stream(
        self, target: Target, call: InferenceCall, ctx: CallContext
    ) -> AsyncGenerator[StreamChunk, None]:
        if target.task not in CHAT_TASKS:
            raise NotSupported(f"Streaming is not available for a {target.task} model.")
        async with aclosing(super().infer_stream(target, call, ctx)) as chunks:
            async for chunk in chunks:
                yield chunk

"""Fake vendor upstreams: real aiohttp servers on 127.0.0.1 that answer the way the vendors do
(reference/apis.md), with scripted faults. The providers' tests, the gateway's tests and the benchmark share them.

In async code (pytest with `@pytest.mark.anyio`):

    async with fake_openai_upstream(reply="Hello there") as upstream:
        upstream.url                         # "http://127.0.0.1:<port>/v1": an OpenAI-compatible base URL
                                             # (also `upstream.base_url`; the server root is `root_url`)
        upstream.fail_next(429, retry_after="7")   # the next request gets OpenAI's 429 (see `fail_next`)
        upstream.fail_next("cut", after_chunks=2)  # the next stream is cut mid-event after two chunks
        ...
        upstream.request_count, upstream.last_body, upstream.last_headers, upstream.requests
        assert await upstream.wait_for_disconnect()  # the client closed a stream early

    async with fake_huggingface_upstream(task_answers={"owner/name": [[{"label": "A", "score": 1.0}]]}) as hf:
        settings.HUGGINGFACE_INFERENCE_BASE = hf.url  # the router root: /v1/chat/completions, /hf-inference/...
        hf.fail_next("loading", estimated_time=20.0)  # HF's 503 {"error": "... is currently loading", ...}

In sync code (Django test client, the benchmark), run one in a background thread:

    with FakeUpstreamThread(fake_openai_upstream, omit_usage=True) as upstream:
        requests.post(f"{upstream.url}/chat/completions", ...)
        upstream.wait_for_disconnect_sync()

What the server does:
- `POST /v1/chat/completions`: a `chat.completion`, or with `"stream": true` Server-Sent Events: a role chunk, one
  chunk per piece of the reply (its words, spaces kept), a chunk with `finish_reason: "stop"`, with
  `stream_options.include_usage` a last chunk with `choices: []` and `usage` (the others then carry
  `"usage": null`), then `data: [DONE]`. `keep_alive=True` sends `: keep-alive` comments between events.
- Usage it reports: `prompt_tokens` = the words in the messages, `completion_tokens` = the pieces of the reply.
  These differ from `count_tokens`, so a test can tell reported usage from counted. `omit_usage=True` never
  sends usage (neither in completions nor in streams).
- `GET /v1/models`: OpenAI's model list.
- `POST /hf-inference/models/{owner}/{name}` (or `{name}`): `task_answers[model_id]`, else a text-classification
  answer `[[{"label": "POSITIVE", "score": ...}, {"label": "NEGATIVE", ...}]]`.
- `api_key="sk-..."` answers 401 (OpenAI's shape) to any other bearer token.
- Every answer carries `x-request-id: req_fake_<n>`.

Faults (`fail_next(fault, times=1, ...)`, taken in order by the next requests, any route):
- an HTTP status (400, 401, 403, 404, 429, 500, 502, 503...): the vendor's error shape (OpenAI's
  `{"error": {"message", "type", "param", "code"}}` on /v1, `{"error": "..."}` on /hf-inference);
  `retry_after="7"` adds a Retry-After header.
- "loading": Hugging Face's 503 `{"error": "Model <id> is currently loading", "estimated_time": <estimated_time>}`.
- "hang": no answer until the client gives up (or `hang_seconds`); counts as a disconnect when it leaves.
- "garbage": 200 with a body that is not JSON (in a stream: `after_chunks` chunks, then an event that is not
  JSON).
- "cut": the connection is dropped mid-answer (a stream: after `after_chunks` chunks, in the middle of an event).
- "no_done": a stream that ends cleanly after `after_chunks` chunks, without usage and without `[DONE]`.
- "stall": a stream that sends `after_chunks` chunks, then only keep-alive comments until the client leaves."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

DEFAULT_REPLY = "Hello from the fake upstream."
TEXT_CLASSIFICATION_ANSWER = [
    [{"label": "POSITIVE", "score": 0.9991}, {"label": "NEGATIVE", "score": 0.0009}]
]
STREAM_FAULTS = ("garbage", "cut", "no_done", "stall")
OPENAI_ERRORS = {
    400: ("invalid_request_error", None, "Invalid value for 'messages'."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Country not supported."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str  # "status", "loading", "hang", "garbage", "cut", "no_done", "stall"
    status: int = 500
    retry_after: str | None = None
    estimated_time: float = 20.0
    after_chunks: int = 2


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeUpstream:
    """One fake server's script and record. Built by `fake_openai_upstream` / `fake_huggingface_upstream`."""

    def __init__(
        self,
        *,
        reply: str = DEFAULT_REPLY,
        omit_usage: bool = False,
        keep_alive: bool = False,
        api_key: str | None = None,
        task_answers: dict[str, Any] | None = None,
        chunk_delay: float = 0.0,
        hang_seconds: float = 30.0,
        models: tuple[str, ...] = ("fake-model",),
    ) -> None:
        self.reply = reply
        self.omit_usage = omit_usage
        self.keep_alive = keep_alive
        self.api_key = api_key
        self.task_answers = dict(task_answers or {})
        self.chunk_delay = chunk_delay
        self.hang_seconds = hang_seconds
        self.models = models
        self.url = ""  # set once the server listens: the base URL to configure (OpenAI's ends in /v1)
        self.base_url = ""  # the same as `url`
        self.root_url = ""  # the server root (http://127.0.0.1:<port>)
        self.requests: list[Received] = []
        self.disconnects = 0
        self._disconnected = threading.Event()
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()

    # --- The test's side ----------------------------------------------------------------------------------------
    def fail_next(
        self,
        fault: int | str,
        *,
        times: int = 1,
        retry_after: str | None = None,
        estimated_time: float = 20.0,
        after_chunks: int = 2,
    ) -> None:
        """Script the next `times` requests: an HTTP status (int) or one of the fault names in the module
        docstring."""
        kind, status = (
            ("status", fault) if isinstance(fault, int) else (fault, 503 if fault == "loading" else 500)
        )
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(kind, status, retry_after, estimated_time, after_chunks))

    @property
    def request_count(self) -> int:
        return len(self.requests)

    @property
    def last_body(self) -> Any:
        return self.requests[-1].body if self.requests else None

    @property
    def last_headers(self) -> dict[str, str]:
        return self.requests[-1].headers if self.requests else {}

    async def wait_for_disconnect(self, timeout: float = 2.0) -> bool:
        """True once a client left a stream (or a hang) before its end; False after `timeout` seconds."""
        give_up = time.monotonic() + timeout
        while not self._disconnected.is_set() and time.monotonic() < give_up:
            await asyncio.sleep(0.01)
        return self._disconnected.is_set()

    def wait_for_disconnect_sync(self, timeout: float = 2.0) -> bool:
        return self._disconnected.wait(timeout)

    # --- The server's side --------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/hf-inference/models/{model_id:.+}", self._task)
        return app

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _left(self) -> None:
        self.disconnects += 1
        self._disconnected.set()

    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(Received(request.method, request.path, dict(request.headers), body))
        return body

    def _headers(self) -> dict[str, str]:
        return {"x-request-id": f"req_fake_{self.request_count}"}

    def _error(self, status: int, *, openai_shape: bool, retry_after: str | None = None) -> web.Response:
        kind, code, message = OPENAI_ERRORS.get(status, ("server_error", None, f"Error {status}."))
        headers = self._headers() | ({"Retry-After": retry_after} if retry_after else {})
        body: dict[str, Any] = (
            {"error": {"message": message, "type": kind, "param": None, "code": code}}
            if openai_shape
            else {"error": message}
        )
        return web.json_response(body, status=status, headers=headers)

    def _unauthorized(self, request: web.Request) -> bool:
        return self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}"

    async def _hang(self, request: web.Request) -> web.Response:
        give_up = time.monotonic() + self.hang_seconds
        while time.monotonic() < give_up:
            if request.transport is None or request.transport.is_closing():
                self._left()
                break
            await asyncio.sleep(0.01)
        return web.Response(status=504)

    async def _common_fault(
        self, request: web.Request, fault: Fault | None, *, openai_shape: bool, model: str
    ) -> web.StreamResponse | None:
        """The answer a fault dictates before any content, or None to go on."""
        if fault is None:
            return self._error(401, openai_shape=openai_shape) if self._unauthorized(request) else None
        if fault.kind == "status":
            return self._error(fault.status, openai_shape=openai_shape, retry_after=fault.retry_after)
        if fault.kind == "loading":
            body = {"error": f"Model {model} is currently loading", "estimated_time": fault.estimated_time}
            return web.json_response(body, status=503, headers=self._headers())
        if fault.kind == "hang":
            return await self._hang(request)
        if fault.kind == "garbage":
            return web.Response(
                body=b"<html>upstream proxy error</html>",
                content_type="application/json",
                headers=self._headers(),
            )
        if fault.kind == "cut":
            return await self._cut_body(request)
        return None

    async def _cut_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={**self._headers(), "Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"id": "chatcmpl-cut", "object": "chat.comp')
        await asyncio.sleep(0.01)
        if request.transport is not None:
            request.transport.close()
        return response

    # --- OpenAI ---------------------------------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.method, request.path, dict(request.headers), None))
        data = [
            {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}
            for model in self.models
        ]
        return web.json_response({"object": "list", "data": data}, headers=self._headers())

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        messages: list[Any] = body["messages"] if isinstance(body.get("messages"), list) else []
        prompt = sum(
            len(str(message.get("content", "")).split()) for message in messages if isinstance(message, dict)
        )
        completion = len(self._pieces())
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _pieces(self) -> list[str]:
        words = self.reply.split(" ")
        return [words[0], *(f" {word}" for word in words[1:])] if self.reply else []

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        fault = self._next_fault()
        if not isinstance(body, dict):
            return self._error(400, openai_shape=True)
        model = str(body.get("model", "fake-model"))
        stream = body.get("stream") is True
        if stream and fault is not None and fault.kind in STREAM_FAULTS:
            return await self._stream(request, body, fault.kind, fault.after_chunks)
        answered = await self._common_fault(request, fault, openai_shape=True, model=model)
        if answered is not None:
            return answered
        if stream:
            return await self._stream(request, body, "", 0)
        completion: dict[str, Any] = {
            "id": f"chatcmpl-fake{self.request_count}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.reply},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
        }
        if not self.omit_usage:
            completion["usage"] = self._usage(body)
        return web.json_response(completion, headers=self._headers())

    def _chunks(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and not self.omit_usage
        base = {
            "id": f"chatcmpl-fake{self.request_count}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": str(body.get("model", "fake-model")),
        }
        deltas = [{"role": "assistant", "content": ""}, *({"content": piece} for piece in self._pieces())]
        chunks = [
            {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}
            for delta in deltas
        ]
        chunks.append(
            {**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}
        )
        if include_usage:
            for chunk in chunks:
                chunk["usage"] = None
            chunks.append({**base, "choices": [], "usage": self._usage(body)})
        return chunks

    async def _stream(
        self, request: web.Request, body: dict[str, Any], kind: str, after_chunks: int
    ) -> web.StreamResponse:
        """The stream; `kind` a stream fault ("garbage", "cut", "no_done", "stall") that strikes after
        `after_chunks` chunks, or "" for the whole stream."""
        response = web.StreamResponse(
            headers={**self._headers(), "Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunks = self._chunks(body)
        if kind:
            chunks = chunks[:after_chunks]
        try:
            for chunk in chunks:
                if self.keep_alive:
                    await response.write(b": keep-alive\n\n")
                await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
            await self._stream_end(request, response, kind)
        except (ConnectionError, asyncio.CancelledError):
            self._left()
            raise
        return response

    async def _stream_end(self, request: web.Request, response: web.StreamResponse, kind: str) -> None:
        if kind == "garbage":
            await response.write(b"data: <html>upstream proxy error</html>\n\n")
        elif kind == "cut":
            await response.write(b'data: {"id": "chatcmpl-cut", "object": "chat.completion.ch')
            await asyncio.sleep(0.01)
            if request.transport is not None:
                request.transport.close()
            return
        elif kind == "stall":
            give_up = time.monotonic() + self.hang_seconds
            while time.monotonic() < give_up:
                await response.write(b": keep-alive\n\n")
                await asyncio.sleep(0.02)
        elif kind != "no_done":
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()

    # --- Hugging Face tasks -------------------------------------------------------------------------------------
    async def _task(self, request: web.Request) -> web.StreamResponse:
        model_id = request.match_info["model_id"]
        await self._record(request)
        fault = self._next_fault()
        answered = await self._common_fault(request, fault, openai_shape=False, model=model_id)
        if answered is not None:
            return answered
        answer = self.task_answers.get(model_id, TEXT_CLASSIFICATION_ANSWER)
        return web.json_response(answer, headers=self._headers())


@asynccontextmanager
async def _serve(upstream: FakeUpstream, suffix: str) -> AsyncIterator[FakeUpstream]:
    runner = web.AppRunner(upstream.app(), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    upstream.root_url = f"http://{host}:{port}"
    upstream.url = upstream.base_url = upstream.root_url + suffix
    try:
        yield upstream
    finally:
        await runner.cleanup()


def fake_openai_upstream(**options: Any) -> AbstractAsyncContextManager[FakeUpstream]:
    """An OpenAI-compatible server; `url` is its base URL ending in /v1. Options: see FakeUpstream."""
    return _serve(FakeUpstream(**options), "/v1")


def fake_huggingface_upstream(**options: Any) -> AbstractAsyncContextManager[FakeUpstream]:
    """Hugging Face's router; `url` is the root (what HUGGINGFACE_INFERENCE_BASE holds). Options: see FakeUpstream."""
    return _serve(FakeUpstream(**options), "")


class FakeUpstreamThread:
    """Run a fake upstream on its own event loop in a background thread, for sync code:
    `with FakeUpstreamThread(fake_openai_upstream, reply="Hi") as upstream: upstream.url ...`."""

    def __init__(
        self,
        factory: Callable[..., AbstractAsyncContextManager[FakeUpstream]] = fake_openai_upstream,
        **options: Any,
    ) -> None:
        self._manager = factory(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstream", daemon=True)

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._manager.__aenter__(), self._loop).result(timeout=10)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._manager.__aexit__(None, None, None), self._loop).result(
                timeout=10
            )
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

"""A fake Replicate API: a real aiohttp server on 127.0.0.1 (a free port) that speaks the predictions API as
/work/shared/reference/apis.md describes it, with predictions that take the time a test gives them.

Script a model, serve, point the provider at the base URL:

    fake = FakeReplicate()  # token REPLICATE_TEST_TOKEN ("r8_test"); other bearer tokens get Replicate's 401
    fake.add_model("meta/llama", ModelScript(output=["Hello", " world"], duration_seconds=0.5, token_counts=(7, 2)))
    async with fake.serving() as base_url:  # in the test's event loop
        settings.REPLICATE_API_BASE = base_url
        ...
    assert fake.canceled == [prediction_id]

From another thread (a sync test, the gateway behind a test client), the server runs on a loop of its own:

    with serve_in_thread(fake) as base_url:
        ...

What it answers (shapes as Replicate's; errors are `application/problem+json`):
- `POST /v1/predictions {"version", "input", "stream"}` (the version is a script's `version_id`, else 422 "Invalid
  version or not permitted") and `POST /v1/models/{owner}/{name}/predictions {"input"}` (unknown model: 404) → 201
  with the prediction. `Prefer: wait` / `wait=N` holds the answer until the prediction ends or N seconds (capped
  at `wait_limit_seconds`, 60 like Replicate's) pass, and says `Preference-Applied: wait=N`.
- An input that is not an object, or lacks one of the script's `required_inputs`: 422 with Replicate's validation
  shape (`title`, `detail`, `status`, `invalid_fields[{type, field, description}]`).
- A prediction is `starting` for `boot_seconds`, `processing` for `duration_seconds` (its output pieces appear
  evenly over that time), then `succeeded` (or `failed` with the script's `error`), with `metrics.predict_time`
  (and `input_token_count` / `output_token_count` when the script has `token_counts`).
- `GET /v1/predictions/{id}`; `POST /v1/predictions/{id}/cancel` (the prediction becomes `canceled` unless it had
  ended; every cancel request is recorded in `canceled`).
- `GET /v1/streams/{id}` (the prediction's `urls.stream`): SSE `output` events as the pieces appear, then `done`
  (`{}`, or `{"reason": "canceled"}`), or `error` (`{"detail": ...}`) and `done` `{"reason": "error"}` for a
  failing script. `cut_stream_after=n` drops the connection mid-response after n output events. A client that goes
  away is recorded in `stream_disconnects`.
- `throttle_next(seconds)`: the next create answers 429 `{"detail": "Request was throttled. ..."}` with
  `Retry-After`; `fail_next(status, body)` any other answer once.

Records (plain lists, appended on the server's loop): `requests` (every request: method, path, headers, JSON
body), `created` (prediction ids), `canceled`, `stream_disconnects`; `predictions` maps id → `FakePrediction`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

REPLICATE_TEST_TOKEN = "r8_test"
DEFAULT_VERSION_ID = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TICK_SECONDS = 0.01


@dataclass
class ModelScript:
    """How predictions of one model behave."""

    output: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "!"])
    duration_seconds: float = 0.0
    boot_seconds: float = 0.0
    error: str | None = None
    cut_stream_after: int | None = None
    token_counts: tuple[int, int] | None = None
    required_inputs: tuple[str, ...] = ("prompt",)
    version_id: str = DEFAULT_VERSION_ID
    streams: bool = True


@dataclass
class FakePrediction:
    id: str
    model: str
    input: dict[str, Any]
    script: ModelScript
    base_url: str
    created: float = field(default_factory=time.monotonic)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    canceled_after: float | None = None  # seconds after creation

    def elapsed(self) -> float:
        return time.monotonic() - self.created

    def status(self) -> str:
        elapsed = self.elapsed()
        if self.canceled_after is not None and elapsed >= self.canceled_after:
            return "canceled"
        if elapsed < self.script.boot_seconds:
            return "starting"
        if elapsed < self.script.boot_seconds + self.script.duration_seconds:
            return "processing"
        return "failed" if self.script.error else "succeeded"

    def ran(self) -> float:
        """Seconds of `processing` so far."""
        until = self.elapsed() if self.canceled_after is None else min(self.elapsed(), self.canceled_after)
        return min(until - self.script.boot_seconds, self.script.duration_seconds)

    def revealed(self) -> int:
        """How many output pieces exist by now."""
        ran = self.ran()
        if ran >= self.script.duration_seconds:
            return len(self.script.output)
        return max(0, int(len(self.script.output) * ran / self.script.duration_seconds))

    def cancel(self) -> None:
        if self.status() in ("starting", "processing"):
            self.canceled_after = self.elapsed()

    def as_json(self) -> dict[str, Any]:
        status, script = self.status(), self.script
        pieces = script.output[: self.revealed()]
        data: dict[str, Any] = {
            "id": self.id,
            "model": self.model,
            "version": script.version_id,
            "input": self.input,
            "logs": "",
            "output": None if status == "failed" or (not pieces and status != "succeeded") else pieces,
            "data_removed": False,
            "error": script.error if status == "failed" else None,
            "status": status,
            "source": "api",
            "created_at": _timestamp(self.created_at),
            "urls": {
                "cancel": f"{self.base_url}/v1/predictions/{self.id}/cancel",
                "get": f"{self.base_url}/v1/predictions/{self.id}",
                "web": f"https://replicate.com/p/{self.id}",
            },
        }
        if script.streams:
            data["urls"]["stream"] = f"{self.base_url}/v1/streams/{self.id}"
        if status != "starting":
            data["started_at"] = _timestamp(self.created_at + timedelta(seconds=script.boot_seconds))
        if status in ("succeeded", "failed", "canceled"):
            ran = max(self.ran(), 0.0)
            data["completed_at"] = _timestamp(self.created_at + timedelta(seconds=script.boot_seconds + ran))
            data["metrics"] = {"predict_time": round(ran, 6), "total_time": round(self.elapsed(), 6)}
            if script.token_counts and status == "succeeded":
                data["metrics"]["input_token_count"], data["metrics"]["output_token_count"] = (
                    script.token_counts
                )
        return data


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Fault:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeReplicate:
    def __init__(self, *, token: str = REPLICATE_TEST_TOKEN, wait_limit_seconds: float = 60.0) -> None:
        self.token = token
        self.wait_limit_seconds = wait_limit_seconds
        self.models: dict[str, ModelScript] = {}
        self.predictions: dict[str, FakePrediction] = {}
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.created: list[str] = []
        self.canceled: list[str] = []
        self.stream_disconnects: list[str] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    # --- Scripting ------------------------------------------------------------------------------------------------
    def add_model(self, model_id: str, script: ModelScript | None = None) -> ModelScript:
        self.models[model_id] = script or ModelScript()
        return self.models[model_id]

    def throttle_next(self, seconds: int = 3) -> None:
        unit = "second" if seconds == 1 else "seconds"
        self.fail_next(
            429,
            {"detail": f"Request was throttled. Expected available in {seconds} {unit}."},
            headers={"Retry-After": str(seconds)},
        )

    def fail_next(self, status: int, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> None:
        """The next create request gets this answer instead of a prediction."""
        self.faults.append(Fault(status=status, body=body, headers=headers or {}))

    # --- Serving --------------------------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/predictions", self._create_by_version)
        app.router.add_post("/v1/models/{owner}/{name}/predictions", self._create_by_model)
        app.router.add_get("/v1/predictions/{id}", self._get)
        app.router.add_post("/v1/predictions/{id}/cancel", self._cancel)
        app.router.add_get("/v1/streams/{id}", self._stream)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        try:
            yield await self.start()
        finally:
            await self.stop()

    # --- Handlers -------------------------------------------------------------------------------------------------
    async def _create_by_version(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if failure := self._refuse(request):
            return failure
        version = body.get("version") if isinstance(body, dict) else None
        found = [(model, script) for model, script in self.models.items() if script.version_id == version]
        if not found:
            return _problem(
                422,
                "Invalid version or not permitted",
                "The specified version does not exist (or perhaps you don't have permission to use it?)",
            )
        return await self._create(request, body, *found[0])

    async def _create_by_model(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        if failure := self._refuse(request):
            return failure
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        if model not in self.models:
            return _problem(404, "Not found", "The requested resource could not be found.")
        return await self._create(request, body, model, self.models[model])

    async def _create(
        self, request: web.Request, body: Any, model: str, script: ModelScript
    ) -> web.StreamResponse:
        if self.faults:
            fault = self.faults.pop(0)
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        input_object = body.get("input") if isinstance(body, dict) else None
        if invalid := _invalid_input(input_object, script):
            return invalid
        prediction_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(26))
        prediction = FakePrediction(prediction_id, model, dict(input_object or {}), script, self.base_url)
        self.predictions[prediction_id] = prediction
        self.created.append(prediction_id)
        headers = {}
        if wait := self._wait_seconds(request.headers.get("Prefer", "")):
            headers["Preference-Applied"] = f"wait={wait:g}"
            held = time.monotonic() + min(wait, self.wait_limit_seconds)
            while prediction.status() in ("starting", "processing") and time.monotonic() < held:
                await asyncio.sleep(TICK_SECONDS)
        return web.json_response(prediction.as_json(), status=201, headers=headers)

    async def _get(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if failure := self._refuse(request):
            return failure
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        return web.json_response(prediction.as_json())

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if failure := self._refuse(request):
            return failure
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        self.canceled.append(prediction.id)
        prediction.cancel()
        return web.json_response(prediction.as_json())

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if failure := self._refuse(request):
            return failure
        prediction = self.predictions.get(request.match_info["id"])
        if prediction is None:
            return _problem(404, "Not found", "The requested resource could not be found.")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        try:
            await self._send_events(request, response, prediction)
        except ConnectionResetError:
            self.stream_disconnects.append(prediction.id)
        return response

    async def _send_events(
        self, request: web.Request, response: web.StreamResponse, prediction: FakePrediction
    ) -> None:
        sent, script = 0, prediction.script
        while True:
            status, revealed = prediction.status(), prediction.revealed()
            while sent < revealed:
                if sent == script.cut_stream_after:
                    assert request.transport is not None
                    request.transport.abort()  # mid-response: the chunked body never ends
                    return
                await response.write(
                    _event("output", script.output[sent], event_id=f"{int(time.time())}:{sent}")
                )
                sent += 1
            if status == "succeeded":
                await response.write(_event("done", "{}"))
                break
            if status == "canceled":
                await response.write(_event("done", json.dumps({"reason": "canceled"})))
                break
            if status == "failed":
                await response.write(_event("error", json.dumps({"detail": script.error})))
                await response.write(_event("done", json.dumps({"reason": "error"})))
                break
            await asyncio.sleep(TICK_SECONDS)
        await response.write_eof()

    # --- Helpers --------------------------------------------------------------------------------------------------
    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body))
        return body

    def _refuse(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def _wait_seconds(self, prefer: str) -> float:
        """`Prefer: wait` is Replicate's 60 s; `wait=N` is N seconds, 1 to 60."""
        for preference in prefer.split(","):
            name, _, value = preference.strip().partition("=")
            if name == "wait":
                try:
                    return float(min(60, max(1, int(value)))) if value else 60.0
                except ValueError:
                    return 0.0
        return 0.0


def _invalid_input(input_object: Any, script: ModelScript) -> web.Response | None:
    if not isinstance(input_object, dict):
        given = type(input_object).__name__ if input_object is not None else "null"
        return _validation_error(
            [("invalid_type", "input", f"Invalid type. Expected: object, given: {given}")]
        )
    missing = [name for name in script.required_inputs if name not in input_object]
    if missing:
        return _validation_error([("required", "input", f"{name} is required") for name in missing])
    return None


def _validation_error(fields: list[tuple[str, str, str]]) -> web.Response:
    detail = "".join(f"- {field_name}: {description}\n" for _, field_name, description in fields)
    return _problem(
        422,
        "Input validation failed",
        detail,
        invalid_fields=[
            {"type": kind, "field": field_name, "description": description}
            for kind, field_name, description in fields
        ],
    )


def _problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response(
        {"title": title, "detail": detail, "status": status, **extra},
        status=status,
        content_type="application/problem+json",
    )


def _event(name: str, data: str, *, event_id: str | None = None) -> bytes:
    lines = [f"event: {name}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@contextmanager
def serve_in_thread(fake: FakeReplicate) -> Iterator[str]:
    """Serve `fake` on an event loop in a background thread; yields the base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-replicate", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

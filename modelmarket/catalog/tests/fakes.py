"""Fake Hugging Face Hub and Replicate APIs for `httpx.MockTransport`, answering with payloads and headers shaped
like the real services' (see /work/shared/reference/apis.md), plus scripted failures.

    clock = FakeClock()
    hub = FakeHuggingFaceHub([hf_model("acme/tiny-llm"), ...], clock=clock)
    hub.fail(page=2, Fault(status=429, headers={"Retry-After": "3"}))
    client = huggingface_client(transport=hub.transport(), sleep=clock.sleep, clock=clock)

`FakeClock` stands in for `time.monotonic` and `time.sleep`: sleeping advances it and is recorded, so tests assert
the waits without waiting. Reused by the demo loader's and the gateway's tests; keep the shapes faithful."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import httpx

HF_BASE = "https://huggingface.co"
REPLICATE_TEST_TOKEN = "r8_test"
REPLICATE_BASE = "https://api.replicate.com"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Fault:
    """One scripted bad answer: a status with headers and a JSON body, or a transport exception to raise."""

    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    exception: type[httpx.TransportError] | None = None


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"$offset": offset}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    return int(json.loads(base64.urlsafe_b64decode(padded))["$offset"])


class _FakeService:
    """Shared plumbing: request log, scripted faults per page (1-based), bearer token check."""

    def __init__(self, *, token: str | None) -> None:
        self.token = token
        self.requests: list[httpx.Request] = []
        self.faults: dict[int, list[Fault]] = {}

    def fail(self, page: int, *faults: Fault) -> None:
        """Answer the next requests for `page` with `faults`, one each, before answering normally."""
        self.faults.setdefault(page, []).extend(faults)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def _scripted(self, request: httpx.Request, page: int) -> httpx.Response | None:
        if not self.faults.get(page):
            return None
        fault = self.faults[page].pop(0)
        if fault.exception is not None:
            raise fault.exception("scripted failure", request=request)
        return httpx.Response(fault.status, headers=fault.headers, json=fault.body)

    def _authorized(self, request: httpx.Request) -> bool:
        return self.token is None or request.headers.get("Authorization") == f"Bearer {self.token}"


class FakeHuggingFaceHub(_FakeService):
    """`GET /api/models` of the Hub: search/author/filter/sort/direction/limit, `Link: <...>; rel="next"` with an
    opaque cursor, and `RateLimit` / `RateLimit-Policy` headers for a fixed window of `quota` requests. When the
    window is used up, requests before it resets (by `clock`) get a 429 with `Retry-After`, as the Hub answers."""

    def __init__(
        self,
        models: list[dict[str, Any]],
        *,
        token: str | None = None,
        quota: int = 500,
        window_seconds: int = 300,
        clock: FakeClock | None = None,
    ) -> None:
        super().__init__(token=token)
        self.models = models
        self.quota, self.window_seconds = quota, window_seconds
        self.clock = clock or FakeClock()
        self.window_start = self.clock()
        self.used = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != "/api/models":
            return httpx.Response(404, json={"error": "Sorry, we can't find the page you are looking for."})
        if not self._authorized(request):
            return httpx.Response(401, json={"error": "Invalid credentials in Authorization header"})
        params = request.url.params
        page_size = int(params.get("limit", "1000"))
        offset = _decode_cursor(params["cursor"]) if "cursor" in params else 0
        scripted = self._scripted(request, offset // page_size + 1)
        if scripted is not None:
            return scripted
        if not self._take_from_window():
            reset = self._reset_seconds()
            return httpx.Response(
                429,
                headers={"Retry-After": str(reset), **self._ratelimit_headers()},
                json={"error": "You have exceeded our rate limit for api requests."},
            )
        matching = self._matching(params)
        headers = self._ratelimit_headers()
        if offset + page_size < len(matching):
            query = {key: value for key, value in params.items() if key != "cursor"}
            next_url = httpx.URL(
                f"{HF_BASE}/api/models", params={**query, "cursor": _encode_cursor(offset + page_size)}
            )
            headers["Link"] = f'<{next_url}>; rel="next"'
        return httpx.Response(200, headers=headers, json=matching[offset : offset + page_size])

    def _matching(self, params: httpx.QueryParams) -> list[dict[str, Any]]:
        search, author, tag = (
            params.get("search", "").lower(),
            params.get("author", ""),
            params.get("filter", ""),
        )
        matching = [
            model
            for model in self.models
            if search in model["id"].lower()
            and (not author or model.get("author") == author)
            and (not tag or tag in model["tags"] or tag == model.get("pipeline_tag"))
        ]
        sort = params.get("sort")
        if sort:
            matching.sort(key=lambda model: model.get(sort) or 0, reverse=params.get("direction") == "-1")
        return matching

    def _reset_seconds(self) -> int:
        return max(0, int(self.window_start + self.window_seconds - self.clock()))

    def _take_from_window(self) -> bool:
        if self.clock() >= self.window_start + self.window_seconds:
            self.window_start, self.used = self.clock(), 0
        if self.used >= self.quota:
            return False
        self.used += 1
        return True

    def _ratelimit_headers(self) -> dict[str, str]:
        return {
            "RateLimit": f'"api";r={self.quota - self.used};t={self._reset_seconds()}',
            "RateLimit-Policy": f'"fixed window";"api";q={self.quota};w={self.window_seconds}',
        }


class FakeReplicate(_FakeService):
    """`GET /v1/models` of Replicate: bearer token required, `{next, previous, results}` pages of `page_size`."""

    def __init__(
        self, models: list[dict[str, Any]], *, token: str = REPLICATE_TEST_TOKEN, page_size: int = 2
    ) -> None:
        super().__init__(token=token)
        self.models = models
        self.page_size = page_size

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path != "/v1/models":
            return httpx.Response(404, json={"title": "Not found", "detail": "Not found.", "status": 404})
        if not self._authorized(request):
            return httpx.Response(
                401,
                json={
                    "title": "Unauthenticated",
                    "detail": "You did not pass a valid authentication token",
                    "status": 401,
                },
            )
        cursor = request.url.params.get("cursor")
        offset = _decode_cursor(cursor) if cursor else 0
        scripted = self._scripted(request, offset // self.page_size + 1)
        if scripted is not None:
            return scripted
        end = offset + self.page_size
        return httpx.Response(
            200,
            json={
                "next": f"{REPLICATE_BASE}/v1/models?cursor={_encode_cursor(end)}"
                if end < len(self.models)
                else None,
                "previous": (
                    f"{REPLICATE_BASE}/v1/models?cursor={_encode_cursor(offset - self.page_size)}"
                    if offset
                    else None
                ),
                "results": self.models[offset:end],
            },
        )


def replicate_throttled(seconds: int = 3) -> Fault:
    return Fault(
        status=429,
        headers={"Retry-After": str(seconds)},
        body={"detail": f"Request was throttled. Expected available in {seconds} seconds."},
    )


# --- Payloads -----------------------------------------------------------------------------------------------------
def hf_model(
    model_id: str,
    *,
    pipeline_tag: str | None = "text-generation",
    downloads: int = 1000,
    likes: int = 10,
    license: str | None = "apache-2.0",
    last_modified: str = "2025-01-10T08:00:00.000Z",
    created_at: str = "2024-06-01T12:00:00.000Z",
    private: bool = False,
    gated: bool | str = False,
    library_name: str = "transformers",
    extra_tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One item of `GET /api/models?full=true`, as the Hub returns it."""
    author = model_id.split("/")[0] if "/" in model_id else None
    tags = [library_name, "safetensors", *extra_tags]
    if pipeline_tag:
        tags.append(pipeline_tag)
    if license:
        tags.append(f"license:{license}")
    tags += ["endpoints_compatible", "region:us"]
    item: dict[str, Any] = {
        "_id": hashlib.sha256(model_id.encode()).hexdigest()[:24],
        "id": model_id,
        "modelId": model_id,
        "likes": likes,
        "trendingScore": 3,
        "private": private,
        "sha": "5f1c7c8b0e9d1f3a2b4c6d8e0f1a3b5c7d9e1f2a",
        "downloads": downloads,
        "tags": tags,
        "library_name": library_name,
        "lastModified": last_modified,
        "createdAt": created_at,
        "gated": gated,
        "disabled": False,
        "siblings": [
            {"rfilename": ".gitattributes"},
            {"rfilename": "config.json"},
            {"rfilename": "model.safetensors"},
        ],
    }
    if author:
        item["author"] = author
    if pipeline_tag:
        item["pipeline_tag"] = pipeline_tag
    return item


def _cog_schema(input_properties: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": {
            "/predictions": {"post": {"summary": "Predict", "operationId": "predict_predictions_post"}}
        },
        "components": {
            "schemas": {
                "Input": {"type": "object", "title": "Input", "required": [], "properties": input_properties},
                "Output": {"title": "Output", **output},
                "Status": {
                    "enum": ["starting", "processing", "succeeded", "canceled", "failed"],
                    "type": "string",
                },
            }
        },
    }


REPLICATE_SCHEMAS: dict[str, dict[str, Any]] = {
    "llm": _cog_schema(
        {
            "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
            "max_tokens": {"type": "integer", "title": "Max Tokens", "default": 512, "x-order": 1},
            "temperature": {"type": "number", "title": "Temperature", "default": 0.7, "x-order": 2},
        },
        {
            "type": "array",
            "items": {"type": "string"},
            "x-cog-array-type": "iterator",
            "x-cog-array-display": "concatenate",
        },
    ),
    "image": _cog_schema(
        {
            "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
            "aspect_ratio": {"type": "string", "title": "Aspect Ratio", "default": "1:1", "x-order": 1},
        },
        {"type": "array", "items": {"type": "string", "format": "uri"}},
    ),
    "whisper": _cog_schema(
        {
            "audio": {"type": "string", "title": "Audio", "format": "uri", "x-order": 0},
            "language": {"type": "string", "title": "Language", "default": "auto", "x-order": 1},
        },
        {
            "type": "object",
            "properties": {
                "segments": {"title": "Segments"},
                "transcription": {"type": "string", "title": "Transcription"},
                "detected_language": {"type": "string", "title": "Detected Language"},
            },
        },
    ),
    "video": _cog_schema(
        {"prompt": {"type": "string", "title": "Prompt", "x-order": 0}},
        {"type": "string", "format": "uri"},
    ),
}


def replicate_model(
    owner: str,
    name: str,
    *,
    kind: str = "llm",
    description: str = "A language model for chat and instructions.",
    run_count: int = 12345,
    version_id: str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
    version_created_at: str = "2025-02-01T10:00:00.000000Z",
    visibility: str = "public",
    with_version: bool = True,
) -> dict[str, Any]:
    """One result of `GET /v1/models`, as Replicate returns it."""
    return {
        "url": f"https://replicate.com/{owner}/{name}",
        "owner": owner,
        "name": name,
        "description": description,
        "visibility": visibility,
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": run_count,
        "cover_image_url": f"https://tjzk.replicate.delivery/models_models_cover_image/{name}.webp",
        "default_example": None,
        "latest_version": (
            {
                "id": version_id,
                "created_at": version_created_at,
                "cog_version": "0.9.4",
                "openapi_schema": REPLICATE_SCHEMAS[kind],
            }
            if with_version
            else None
        ),
    }

"""The gateway's operations in the one OpenAPI document (`/api/v1/openapi.json`), generated from the same pydantic
models the gateway validates with (`schemas.py`), so the document cannot drift from what the gateway accepts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from modelmarket.inference.gateway.schemas import (
    ChatCompletionIn,
    ChatCompletionOut,
    InferenceIn,
    InferenceJobOut,
    InferenceOut,
    ModelList,
    OpenAIError,
)

REF = "#/components/schemas/{model}"
SECURITY: list[dict[str, list[str]]] = [
    {"BearerKeyAuth": []},
    {"HeaderKeyAuth": []},
    {"BrowserSessionAuth": []},
]
NATIVE_ERRORS = (400, 401, 402, 403, 404, 413, 422, 429, 502, 503, 504)
OPENAI_ERRORS = (400, 401, 402, 403, 404, 413, 422, 429, 502, 503, 504)


def _component(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault(model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(statuses: tuple[int, ...], schema: dict[str, Any]) -> dict[int, Any]:
    return {status: _json(schema, "Error") for status in statuses}


def _operation(
    operation_id: str, summary: str, tags: list[str], responses: dict[int, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": tags,
        "security": SECURITY,
        "responses": responses,
        **extra,
    }


def gateway_openapi(components: dict[str, Any]) -> dict[str, Any]:
    """The gateway's path items; their schemas are added to `components` (the document's `components.schemas`)."""
    envelope = {"$ref": "#/components/schemas/ErrorOut"}
    openai_error = _component(OpenAIError, components)
    slug = [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}]
    job_id = [
        {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    ]
    sse = {"text/event-stream": {"schema": {"type": "string"}}}
    inference_ok = _json(_component(InferenceOut, components), "The model's answer, its usage and cost.")
    inference_ok["content"].update(sse)
    chat_ok = _json(
        _component(ChatCompletionOut, components), "A chat completion (or SSE chunks with stream)."
    )
    chat_ok["content"].update(sse)
    job = _component(InferenceJobOut, components)
    return {
        "/api/v1/models/{slug}/inference": {
            "post": _operation(
                "inference_run",
                "Call a model",
                ["inference"],
                {200: inference_ok, 202: _json(job, "A long job was started.")}
                | _errors(NATIVE_ERRORS, envelope),
                parameters=slug,
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _component(InferenceIn, components)}},
                },
                description=(
                    'Runs the model. With `"stream": true` the answer is Server-Sent Events: `delta` events, then one '
                    "`done` event with usage and cost (or `error`). Headers say which provider and version served the "
                    "call and what it cost."
                ),
            )
        },
        "/api/v1/inference/{job_id}": {
            "get": _operation(
                "inference_job",
                "A long job's status",
                ["inference"],
                {200: _json(job, "The job.")} | _errors(NATIVE_ERRORS, envelope),
                parameters=job_id,
            )
        },
        "/api/v1/inference/{job_id}/cancel": {
            "post": _operation(
                "inference_job_cancel",
                "Cancel a long job",
                ["inference"],
                {200: _json(job, "The job.")} | _errors(NATIVE_ERRORS, envelope),
                parameters=job_id,
            )
        },
        "/v1/models": {
            "get": _operation(
                "openai_models",
                "Models this key may call (OpenAI-compatible)",
                ["openai"],
                {200: _json(_component(ModelList, components), "The models.")}
                | _errors((401, 403), openai_error),
            )
        },
        "/v1/chat/completions": {
            "post": _operation(
                "openai_chat_completions",
                "Chat completion (OpenAI-compatible)",
                ["openai"],
                {200: chat_ok} | _errors(OPENAI_ERRORS, openai_error),
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": _component(ChatCompletionIn, components)}},
                },
            )
        },
    }

"""The gateway's request and response models. The gateway validates requests with them, and `openapi.py` publishes
the same models in the one OpenAPI document, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Cost(BaseModel):
    amount_minor: int = Field(description="In the currency's minor units (cents for USD).")
    currency: str


class InferenceUsage(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    compute_ms: int
    tokens_reported: bool = Field(
        description="True when the provider reported the tokens; else we counted them."
    )


class InferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Any = Field(description="As the version's input schema describes (see the model page).")
    parameters: dict[str, Any] = Field(default_factory=dict)
    version: str | None = Field(
        default=None, max_length=64, description="Defaults to the model's default version."
    )
    stream: bool = False


class InferenceOut(BaseModel):
    id: str
    model: str
    version: str
    provider: str
    output: Any
    usage: InferenceUsage
    cost: Cost
    latency_ms: int


class InferenceJobOut(BaseModel):
    id: str
    model: str
    version: str
    provider: str
    status: Literal["starting", "processing", "succeeded", "failed", "canceled"]
    output: Any = None
    error: str | None = None
    created_at: str
    completed_at: str | None = None
    cost: Cost | None = None  # once the job has ended
    urls: dict[str, str]  # "get" (this status) and "cancel"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionIn(BaseModel):
    """OpenAI's chat completion request; fields we do not pass on are refused rather than silently dropped."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(max_length=200, description="A model's slug, optionally with @version.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(default=None, max_length=256)
    n: int | None = Field(default=None, ge=1, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None


class ChatChoice(BaseModel):
    index: int
    message: dict[str, Any]
    finish_reason: str | None


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorBody

"""The one protocol every inference provider implements, and the values that cross it.

The gateway resolves a listing version into a `Target` (from its cache: no ORM on the hot path), builds an
`InferenceCall` or an OpenAI-shaped chat body, and calls the provider with a `CallContext` (the worker's pooled
aiohttp session and the call's deadline). Providers translate to and from their upstream and raise `ProviderError`s;
the gateway owns retries, the circuit breaker, fallback, metering and cost.

Native calls (`POST /api/v1/models/{slug}/inference`) go through `infer` / `infer_stream`; OpenAI-compatible calls
(`POST /v1/chat/completions`) through `chat` / `chat_stream`. Providers that run long jobs (Replicate) return an
`InferenceResult` whose `job` is set when the upstream did not finish within the wait, and implement
`job_status` / `job_cancel`."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import aiohttp


# --- Errors -------------------------------------------------------------------------------------------------------
class ProviderError(Exception):
    """A provider call failed. `status` is what our API answers, `code` the stable machine code, `retryable` whether
    the gateway may try again (connect errors, upstream 502/503/504, upstream 429), `retry_after` the upstream's
    requested wait in seconds. `upstream_status` is the upstream's HTTP status, when there was one."""

    status: ClassVar[int] = 502
    code: ClassVar[str] = "upstream_error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.upstream_status = upstream_status
        self.retry_after = retry_after
        self.details = details or {}


class InvalidInput(ProviderError):
    """The input does not fit the version's schema or the model's tensors (never sent upstream)."""

    status = 422
    code = "invalid_input"


class UpstreamTimeout(ProviderError):
    """The upstream did not answer before the deadline. Not retried: the time budget is spent."""

    status = 504
    code = "upstream_timeout"


class UpstreamUnavailable(ProviderError):
    """Connection refused or reset before a response, or the upstream answered 502/503/504."""

    status = 502
    code = "upstream_unavailable"
    retryable = True


class UpstreamRateLimited(ProviderError):
    """The upstream answered 429; `retry_after` carries its Retry-After when it sent one."""

    status = 503
    code = "upstream_rate_limited"
    retryable = True


class UpstreamRejected(ProviderError):
    """The upstream refused the request (4xx other than 429): bad credentials, unknown model, bad parameters.
    400 and 422 from the upstream are the caller's input and answer 400; auth failures are the listing's and 502."""

    status = 502
    code = "upstream_rejected"


class UpstreamForbidden(UpstreamRejected):
    """The upstream's host resolved (at connect time) to an address the gateway never calls: private, loopback,
    link-local, metadata... (see `modelmarket.inference.ssrf`). The listing's to fix, never retried."""

    code = "upstream_url_forbidden"


class UpstreamBadResponse(ProviderError):
    """The upstream answered something we cannot read, or closed the connection mid-response."""

    status = 502
    code = "upstream_bad_response"


class UpstreamFailed(ProviderError):
    """The upstream ran the job and reported a failure (a Replicate prediction with status failed)."""

    status = 502
    code = "upstream_failed"


class ProviderUnknown(ProviderError):
    """A listing names a provider the gateway does not have (see `providers.provider_for`)."""

    code = "provider_unknown"


class NotSupported(ProviderError):
    """The provider or the model's task does not offer this operation (e.g. chat on a tabular classifier)."""

    status = 400
    code = "operation_not_supported"


# --- Values -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Target:
    """A callable listing version, as the gateway caches it. `runtime` is the version's runtime settings (see
    `catalog.models.ModelVersion.runtime`); `credential` the decrypted creator secret for this listing, or None to
    use the platform-wide setting for the provider; `files` maps file name → storage key (local models)."""

    model_id: int
    slug: str
    creator_id: int
    task: str
    version_id: int
    version: str
    provider: str
    runtime: dict[str, Any]
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] = field(default_factory=dict)
    base_url: str = ""
    credential: str | None = field(default=None, repr=False)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def upstream_key(self) -> str:
        """What the circuit breaker counts failures by: one model on one upstream server, so a broken model (or
        model file) never pauses the provider's other models."""
        model = self.runtime.get("model_id") or f"version-{self.version_id}"
        return f"{self.provider}:{self.base_url or self.runtime.get('base_url', '')}:{model}"


@dataclass(frozen=True, slots=True)
class InferenceCall:
    """A native call: `input` as the version's input schema describes it, free-form `parameters`."""

    input: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    stream: bool = False


@dataclass(slots=True)
class Usage:
    """Tokens and compute of one call. `reported` is True when the numbers come from the upstream's own usage,
    False when we counted them (`count_tokens`). A reported zero is a real zero."""

    input_tokens: int = 0
    output_tokens: int = 0
    compute_ms: int = 0
    reported: bool = False


@dataclass(frozen=True, slots=True)
class JobRef:
    """An upstream job still running: the provider's id and whatever the provider needs to poll or cancel it."""

    provider_job_id: str
    status: Literal["starting", "processing"]
    urls: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class InferenceResult:
    output: Any
    usage: Usage
    job: JobRef | None = None
    upstream_request_id: str = ""


@dataclass(slots=True)
class JobStatus:
    status: Literal["starting", "processing", "succeeded", "failed", "canceled"]
    output: Any = None
    error: str | None = None
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class StreamChunk:
    """One piece of a native stream: a text `delta`, or (last) `usage` with no delta."""

    delta: str = ""
    usage: Usage | None = None


@dataclass(slots=True)
class CallContext:
    """Per call: the worker's pooled aiohttp session, the absolute deadline (time.monotonic), the request id to
    forward upstream, and the platform-wide credentials by provider name."""

    session: aiohttp.ClientSession
    deadline: float
    request_id: str = ""
    platform_credentials: dict[str, str] = field(default_factory=dict, repr=False)

    def remaining(self) -> float:
        """Seconds left before the deadline; raises UpstreamTimeout when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise UpstreamTimeout("The model did not answer in time.")
        return left

    def credential_for(self, target: Target) -> str | None:
        return target.credential or self.platform_credentials.get(target.provider) or None


# --- The protocol -------------------------------------------------------------------------------------------------
class Provider(Protocol):
    name: ClassVar[str]

    async def infer(self, target: Target, call: InferenceCall, ctx: CallContext) -> InferenceResult:
        """Run one call to completion (or, for long jobs, until the upstream's wait ends: `result.job` set)."""
        ...

    def infer_stream(
        self, target: Target, call: InferenceCall, ctx: CallContext
    ) -> AsyncIterator[StreamChunk]:
        """Stream a native call: text deltas, then one chunk with `usage`. Closing the iterator early (client
        gone) must cancel the upstream call."""
        ...

    async def chat(self, target: Target, body: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        """An OpenAI chat completion body in, an OpenAI `chat.completion` object out (with `usage`)."""
        ...

    def chat_stream(
        self, target: Target, body: dict[str, Any], ctx: CallContext
    ) -> AsyncIterator[dict[str, Any]]:
        """OpenAI `chat.completion.chunk` objects; the last carries `usage` (asked of the upstream with
        `stream_options.include_usage`, else counted). Closing early cancels the upstream call."""
        ...

    async def job_status(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus: ...

    async def job_cancel(self, target: Target, job: JobRef, ctx: CallContext) -> JobStatus: ...


def count_tokens(text: str) -> int:
    """An estimate for upstreams that report no usage: about four characters per token (OpenAI's rule of thumb),
    never zero for non-empty text."""
    return math.ceil(len(text) / 4) if text else 0

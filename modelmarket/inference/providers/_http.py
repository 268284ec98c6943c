"""What the HTTP providers share: one way to send a request under the call's deadline, map the upstream's failures
to `ProviderError`s, read a bounded JSON body, and read a Server-Sent Events stream."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp.http_exceptions import LineTooLong
from django.conf import settings

from modelmarket.core.http_headers import parse_retry_after
from modelmarket.inference.providers.base import (
    CallContext,
    ProviderError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)


class UpstreamBadRequest(UpstreamRejected):
    """The upstream refused the caller's input (400/422): the caller's to fix, so 400, not 502."""

    status = 400
    code = "upstream_bad_request"


def _error_message(body: bytes) -> str:
    """The upstream's own words, from the shapes vendors use: {"error": {"message"}}, {"error": "..."},
    {"detail": "..."}; else the start of the body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        for key in ("error", "detail", "message"):
            if isinstance(data.get(key), str):
                return data[key]
    return body[:200].decode("utf-8", "replace")


def _estimated_time(body: bytes) -> float | None:
    """Hugging Face's "model is loading" answer (503) says when to come back in `estimated_time`, not Retry-After."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("estimated_time") if isinstance(data, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Up to `limit` + 1 bytes of the body (one more than allowed tells the caller it was too long). Loops:
    `StreamReader.read(n)` returns what is buffered, which for a body in several packets is less than n. A body that
    declares its length within the limit, uncompressed (so what is read is what was declared), is read whole."""
    declared = response.content_length
    if declared is not None and declared <= limit and "Content-Encoding" not in response.headers:
        return await response.read()
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = await response.content.read(limit + 1 - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


async def raise_for_upstream(response: aiohttp.ClientResponse, *, vendor: str) -> None:
    """Turn a non-2xx upstream answer into the matching ProviderError (the body is read, bounded, for its
    message). 2xx returns."""
    if response.status < 300:
        return
    body = (await _read_bounded(response, 64 * 1024))[: 64 * 1024]
    message = f"{vendor} answered {response.status}: {_error_message(body)}"
    status = response.status
    if status == 429:
        raise UpstreamRateLimited(
            message,
            upstream_status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (502, 503, 504):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise UpstreamUnavailable(
            message,
            upstream_status=status,
            retry_after=_estimated_time(body) if retry_after is None else retry_after,
        )
    if status in (400, 422):
        raise UpstreamBadRequest(message, upstream_status=status)
    if 400 <= status < 500:
        raise UpstreamRejected(message, upstream_status=status)
    raise UpstreamBadResponse(message, upstream_status=status)


@dataclass(frozen=True, slots=True)
class Sent:
    """How to send: the deadline comes from the call context; `connect` from the settings."""

    method: str
    url: str
    headers: Mapping[str, str]
    json_body: Any = None


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 2xx answer read whole: its JSON body and its headers."""

    body: Any
    headers: Mapping[str, str]  # aiohttp's case-insensitive headers


@asynccontextmanager
async def upstream_request(
    ctx: CallContext, sent: Sent, *, vendor: str, timeout_seconds: float | None = None
) -> AsyncIterator[aiohttp.ClientResponse]:
    """Send `sent` and yield the 2xx response; map network failures and timeouts to ProviderErrors. The response
    is released when the block ends (also when the consumer stops early: that closes the upstream connection, which
    is how an abandoned stream cancels the upstream call). For a JSON answer read whole, `fetch_json`."""
    options = _request_options(ctx, sent, timeout_seconds)
    try:
        async with ctx.session.request(sent.method, sent.url, **options) as response:
            await raise_for_upstream(response, vendor=vendor)
            yield response
    except _NETWORK_ERRORS as exc:
        raise _network_error(exc, ctx, vendor) from exc


async def fetch_json(
    ctx: CallContext, sent: Sent, *, vendor: str, timeout_seconds: float | None = None
) -> Fetched:
    """Send `sent` and read its 2xx answer as JSON (`read_json`'s bounds); failures as in `upstream_request`. One
    coroutine, without the context manager's layers: this is every non-streamed call's path (measured 25 us of CPU
    a call less)."""
    options = _request_options(ctx, sent, timeout_seconds)
    try:
        async with ctx.session.request(sent.method, sent.url, **options) as response:
            await raise_for_upstream(response, vendor=vendor)
            return Fetched(await read_json(response, vendor=vendor), response.headers)
    except _NETWORK_ERRORS as exc:
        raise _network_error(exc, ctx, vendor) from exc


def _request_options(ctx: CallContext, sent: Sent, timeout_seconds: float | None) -> dict[str, Any]:
    """Headers, body and timeout of `sent`: the timeout is what is left of the call's budget (or less)."""
    total = min(ctx.remaining(), timeout_seconds) if timeout_seconds else ctx.remaining()
    headers = dict(sent.headers)
    if ctx.request_id:
        headers.setdefault("X-Request-ID", ctx.request_id)
    body = None
    if sent.json_body is not None:
        body = json_bytes(sent.json_body)
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    timeout = aiohttp.ClientTimeout(total=total, sock_connect=settings.GATEWAY_CONNECT_TIMEOUT_SECONDS)
    return {"headers": headers, "data": body, "timeout": timeout}


# What sending can fail with, short of an answer (ClientOSError and the connect timeout are among them).
_NETWORK_ERRORS = (TimeoutError, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)


def _network_error(exc: BaseException, ctx: CallContext, vendor: str) -> ProviderError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        # The connect timeout ran out with time left in the call's budget: a connect error, which may be retried.
        if ctx.deadline - time.monotonic() > 0:
            return UpstreamUnavailable(f"Could not connect to {vendor} in time.")
        return UpstreamTimeout(f"{vendor} did not answer in time.")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(f"{vendor} did not answer in time.")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamBadResponse(f"{vendor} closed the connection mid-response.")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientConnectorError):
        return UpstreamUnavailable(f"Could not reach {vendor}: {type(exc).__name__}.")
    return UpstreamBadResponse(f"{vendor} closed the connection: {type(exc).__name__}.")


async def read_json(response: aiohttp.ClientResponse, *, vendor: str) -> Any:
    """The body as JSON, refusing more than GATEWAY_MAX_RESPONSE_BYTES and anything that is not JSON."""
    limit = settings.GATEWAY_MAX_RESPONSE_BYTES
    body = await _read_bounded(response, limit)
    if len(body) > limit:
        raise UpstreamBadResponse(f"{vendor} answered more than {limit} bytes.")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass  # what orjson refuses and the standard library reads: integers past 64 bits, NaN
    try:
        return json.loads(body)
    except ValueError as exc:
        raise UpstreamBadResponse(f"{vendor} answered something that is not JSON.") from exc


def json_bytes(value: Any) -> bytes:
    """A request body as JSON: orjson (several times faster than the standard library), or the standard library for
    what orjson refuses (integers past 64 bits, keys that are not strings)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str
    data: str


async def sse_events(response: aiohttp.ClientResponse, *, vendor: str) -> AsyncGenerator[SseEvent, None]:
    """Server-Sent Events from a response: `event:` and `data:` fields, multi-line data joined with newlines,
    comments (`: keep-alive`) skipped. Ends when the upstream closes the stream; a stream cut off mid-event (an
    event or line not finished by its newline, which SSE says to discard) raises UpstreamBadResponse. Lines longer
    than GATEWAY_MAX_RESPONSE_BYTES are refused."""
    event, data_lines = "message", list[str]()
    limit = settings.GATEWAY_MAX_RESPONSE_BYTES
    try:
        while True:
            raw = await response.content.readline(max_line_length=limit)
            if not raw:
                break
            if not raw.endswith(b"\n"):
                raise UpstreamBadResponse(f"{vendor} closed the stream mid-event.")
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if data_lines:
                    yield SseEvent(event, "\n".join(data_lines))
                event, data_lines = "message", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data_lines.append(value)
    except aiohttp.ClientPayloadError as exc:
        raise UpstreamBadResponse(f"{vendor} closed the stream mid-event.") from exc
    except LineTooLong as exc:
        raise UpstreamBadResponse(f"{vendor} sent an event larger than {limit} bytes.") from exc
    except TimeoutError as exc:
        raise UpstreamTimeout(f"{vendor} stopped sending before the deadline.") from exc
    if data_lines:
        raise UpstreamBadResponse(f"{vendor} closed the stream mid-event.")

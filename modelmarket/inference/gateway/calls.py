"""Running an admitted call against its provider: retries and circuit breaker, the listing's fallback version,
and streams that record exactly what was delivered however they end (finished, failed upstream, or abandoned by
the client — which closes the provider's stream and with it the upstream request)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from modelmarket.inference.gateway.pipeline import Call
from modelmarket.inference.gateway.reliability import with_retries
from modelmarket.inference.providers import provider_for
from modelmarket.inference.providers.base import Provider, ProviderError, Target, Usage, count_tokens
from modelmarket.usage.events import UsageStatus

logger = logging.getLogger(__name__)


async def call_provider[T](call: Call, operation: Callable[[Provider, Target], Awaitable[T]]) -> T:
    """Run `operation` on the call's target with retries; when that fails with an upstream fault and the listing has
    a fallback version, once more on the fallback (said in the response headers: no silent rerouting). Records the
    failure and re-raises when nothing worked."""
    ctx = call.context()
    try:
        result, _ = await with_retries(
            lambda: operation(provider_for(call.target.provider), call.target),
            ctx=ctx,
            breakers=call.gateway.breakers,
            upstream=call.target.upstream_key,
        )
        return result
    except ProviderError as error:
        fallback = _fallback_target(call)
        if fallback is None or not (error.retryable or error.status in (502, 503, 504)):
            call.fail(error)
            raise
    call.target, call.fallback_used = fallback, True
    try:
        result, _ = await with_retries(
            lambda: operation(provider_for(fallback.provider), fallback),
            ctx=ctx,
            breakers=call.gateway.breakers,
            upstream=fallback.upstream_key,
        )
    except ProviderError as error:
        call.fail(error)
        raise
    return result


def _fallback_target(call: Call) -> Target | None:
    name = call.listing.fallback_version
    if not name or name == call.target.version or name in call.listing.retired:
        return None
    return call.listing.versions.get(name)


async def open_stream[T](
    call: Call, start: Callable[[Provider, Target], AsyncIterator[T]]
) -> tuple[AsyncIterator[T], T]:
    """Start a stream and wait for its first item, retrying (and falling back) only before anything was delivered."""

    async def first_item(provider: Provider, target: Target) -> tuple[AsyncIterator[T], T]:
        iterator = start(provider, target)
        try:
            return iterator, await anext(iterator)
        except BaseException:
            await _close(iterator)
            raise

    iterator, first = await call_provider(call, first_item)
    call.mark_first_byte()
    return iterator, first


async def _close(iterator: AsyncIterator[Any]) -> None:
    closer = getattr(iterator, "aclose", None)
    if closer is not None:
        try:
            await closer()
        except Exception:  # closing a failed upstream stream may fail again; nothing more to do with it
            logger.debug("closing an upstream stream failed", exc_info=True)


def sse(data: Any, event: str | None = None) -> bytes:
    body = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "").encode() + f"data: {body}\n\n".encode()


class DeliveredCount:
    """What a stream has delivered so far, for metering a stream that ends early."""

    def __init__(self, input_text: str) -> None:
        self.input_tokens = count_tokens(input_text)
        self.output_chars: list[str] = []

    def add(self, text: str) -> None:
        if text:
            self.output_chars.append(text)

    def usage(self) -> Usage:
        return Usage(input_tokens=self.input_tokens, output_tokens=count_tokens("".join(self.output_chars)))


def usage_of_failure(error: ProviderError, delivered: DeliveredCount) -> Usage:
    reported = error.details.get("usage")
    return reported if isinstance(reported, Usage) else delivered.usage()


async def metered_stream[T](
    call: Call,
    iterator: AsyncIterator[T],
    first: T,
    *,
    render: Callable[[T], tuple[list[bytes], str, Usage | None]],
    render_error: Callable[[ProviderError], bytes],
    render_end: Callable[[Usage], list[bytes]],
    delivered: DeliveredCount,
) -> AsyncIterator[bytes]:
    """Relay a provider stream as bytes. `render(item)` gives the frames to send, the text the item delivered and
    the usage it carries (the last item's). Exactly one usage event is recorded, in every outcome."""
    usage: Usage | None = None
    try:
        item: T | None = first
        while item is not None:
            frames, text, item_usage = render(item)
            delivered.add(text)
            usage = item_usage or usage
            for frame in frames:
                yield frame
            item = await anext(iterator, None)
        final = usage or delivered.usage()
        call.finish(UsageStatus.SUCCEEDED, usage=final)
        for frame in render_end(final):
            yield frame
    except ProviderError as error:
        call.fail(error, usage=usage_of_failure(error, delivered))
        yield render_error(error)
    except (asyncio.CancelledError, GeneratorExit, OSError):
        call.finish(
            UsageStatus.CLIENT_DISCONNECTED,
            usage=delivered.usage(),
            http_status=499,
            error_code="client_disconnected",
        )
        raise
    finally:
        await _close(iterator)
        if not call.finished:
            call.finish(
                UsageStatus.CLIENT_DISCONNECTED,
                usage=delivered.usage(),
                http_status=499,
                error_code="client_disconnected",
            )

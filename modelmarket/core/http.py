"""Outbound HTTP to other services (provider catalog sync now, Helio later).

Two pieces:
- `make_http_client` builds an `httpx.Client` with explicit connect, read, write and pool timeouts.
- `RetryingClient` wraps it and retries retryable failures only, with exponential backoff and jitter, inside a
  total time budget per request:
    * connection failures and pool timeouts (the request never left: always safe to repeat);
    * read and write timeouts, and 502/503/504 answers, only for idempotent requests (GET, HEAD, OPTIONS, PUT,
      DELETE, or `idempotent=True` for a POST carrying an idempotency key);
    * 429 always (the server refused the work), waiting for `Retry-After` when the server sends it.
  Every other answer, 4xx included, comes back to the caller at once; `raise_for_upstream_status` turns a 4xx
  into `UpstreamRejected`. Exhausted retries raise `UpstreamUnavailable` (5xx, network) or `UpstreamThrottled`
  (429); both are `UpstreamError`s, so the API renders them as 502.
  A rate-limit hook reads each response's headers and may ask for a pause before the next request
  (`ietf_ratelimit_wait` understands `RateLimit: "api";r=0;t=120` as Hugging Face sends it).

`sleep`, `clock` and `random_fraction` are injectable so tests check the waits without waiting."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from modelmarket.core.exceptions import UpstreamError
from modelmarket.core.http_headers import parse_ratelimit_header, parse_retry_after

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Failures before the request reached the server: safe to repeat whatever the method.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
# Failures after the request may have reached the server: repeated for idempotent requests only.
MAYBE_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ReadTimeout, httpx.WriteTimeout)

RateLimitHook = Callable[[httpx.Response], float | None]


@dataclass(frozen=True)
class Timeouts:
    connect_seconds: float = 5.0
    read_seconds: float = 30.0
    write_seconds: float = 30.0
    pool_seconds: float = 5.0

    def as_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_seconds,
            read=self.read_seconds,
            write=self.write_seconds,
            pool=self.pool_seconds,
        )


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` counts the first try. The budget covers every wait of one `request()` call: backoff,
    Retry-After and rate-limit pauses; a wait that would overrun it fails the call at once instead."""

    max_attempts: int = 5
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    total_budget_seconds: float = 120.0


# --- Errors -------------------------------------------------------------------------------------------------------
class OutboundHTTPError(UpstreamError):
    """A call to another service failed. `upstream_status` is its HTTP status (None for a network failure)."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        upstream_status: int | None = None,
        attempts: int = 1,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.url = url
        self.upstream_status = upstream_status
        self.attempts = attempts
        self.retry_after_seconds = retry_after_seconds
        details = {"url": url, "upstream_status": upstream_status, "attempts": attempts}
        super().__init__(message, details=details)


class UpstreamUnavailable(OutboundHTTPError):
    default_code = "upstream_unavailable"


class UpstreamThrottled(OutboundHTTPError):
    default_code = "upstream_rate_limited"


class UpstreamRejected(OutboundHTTPError):
    default_code = "upstream_rejected"


def ietf_ratelimit_wait(response: httpx.Response) -> float | None:
    """The rate-limit hook for services sending `RateLimit` (Hugging Face): when a window has no requests left
    (`r=0`), wait its `t` seconds before the next request."""
    header = response.headers.get("RateLimit")
    if not header:
        return None
    waits = []
    for item in parse_ratelimit_header(header):
        try:
            remaining, reset_seconds = int(item.get("r", "")), float(item.get("t", ""))
        except ValueError:
            continue
        if remaining <= 0:
            waits.append(max(0.0, reset_seconds))
    return max(waits) if waits else None


def backoff_delay(*, attempt: int, policy: RetryPolicy, random_fraction: float) -> float:
    """Exponential backoff with "equal jitter": between half and all of base·2^(attempt-1), capped."""
    ceiling = min(policy.backoff_max_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1))
    return ceiling * (0.5 + 0.5 * random_fraction)


# --- Client -------------------------------------------------------------------------------------------------------
def make_http_client(
    *,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    timeouts: Timeouts | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client with explicit timeouts. Redirects are not followed (a redirect to another host would carry
    our credentials along); `transport` is for tests (`httpx.MockTransport`)."""
    return httpx.Client(
        base_url=base_url,
        headers={"User-Agent": "ModelMarket/1.0", **(headers or {})},
        timeout=(timeouts or Timeouts()).as_httpx(),
        transport=transport,
        follow_redirects=False,
    )


@dataclass
class _Failure:
    reason: str
    upstream_status: int | None
    retry_after_seconds: float | None


class RetryingClient:
    """Retries around an `httpx.Client` (see the module docstring). Not thread-safe: one per job or thread."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        policy: RetryPolicy | None = None,
        rate_limit_hook: RateLimitHook | None = ietf_ratelimit_wait,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        random_fraction: Callable[[], float] = random.random,
        service_name: str = "the upstream service",
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.rate_limit_hook = rate_limit_hook
        self.service_name = service_name
        self._sleep, self._clock, self._random_fraction = sleep, clock, random_fraction
        self._pause_until = clock()

    @property
    def timeout(self) -> httpx.Timeout:
        return self.client.timeout

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def request(
        self, method: str, url: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send, retrying retryable failures. Returns the first non-retryable response (2xx, 3xx, most 4xx);
        raises UpstreamUnavailable or UpstreamThrottled once retries or the time budget run out."""
        idempotent = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        deadline = self._clock() + self.policy.total_budget_seconds
        failure: _Failure | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            self._wait_for_pause(deadline=deadline, url=url, failure=failure, attempts=attempt - 1)
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if not isinstance(exc, NOT_SENT_ERRORS + (MAYBE_SENT_ERRORS if idempotent else ())):
                    raise self._error(_Failure(type(exc).__name__, None, None), url, attempt) from exc
                failure = _Failure(type(exc).__name__, None, None)
            else:
                self._apply_rate_limit_hook(response)
                status = response.status_code
                if status not in RETRYABLE_STATUSES or (status != 429 and not idempotent):
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                failure = _Failure(f"HTTP {status}", status, retry_after)
                response.close()
            if attempt == self.policy.max_attempts:
                break
            delay = failure.retry_after_seconds
            if delay is None:
                delay = backoff_delay(
                    attempt=attempt, policy=self.policy, random_fraction=self._random_fraction()
                )
            self._pause_until = max(self._pause_until, self._clock() + delay)
            logger.warning(
                "outbound request failed, retrying",
                extra={"url": _loggable(url), "reason": failure.reason, "attempt": attempt, "delay_s": delay},
            )
        assert failure is not None
        raise self._error(failure, url, self.policy.max_attempts)

    def _wait_for_pause(self, *, deadline: float, url: str, failure: _Failure | None, attempts: int) -> None:
        wait = self._pause_until - self._clock()
        if wait <= 0:
            return
        if self._clock() + wait > deadline:
            if failure is None:  # a rate-limit window from an earlier response, longer than our budget
                failure = _Failure("rate limit window", None, wait)
            raise self._error(failure, url, attempts, budget_wait=wait)
        self._sleep(wait)

    def _apply_rate_limit_hook(self, response: httpx.Response) -> None:
        wait = self.rate_limit_hook(response) if self.rate_limit_hook else None
        if wait:
            self._pause_until = max(self._pause_until, self._clock() + wait)

    def _error(
        self, failure: _Failure, url: str, attempts: int, *, budget_wait: float | None = None
    ) -> OutboundHTTPError:
        throttled = failure.upstream_status == 429 or failure.reason == "rate limit window"
        why = (
            f"the next wait ({budget_wait:g} s) would exceed the {self.policy.total_budget_seconds:g} s time budget"
            if budget_wait is not None
            else f"after {attempts} attempt{'s' if attempts != 1 else ''}"
        )
        what = "kept rate limiting us" if throttled else "failed"
        message = f"{self.service_name} {what} ({failure.reason}); gave up: {why}."
        error_class = UpstreamThrottled if throttled else UpstreamUnavailable
        return error_class(
            message,
            url=_loggable(url),
            upstream_status=failure.upstream_status,
            attempts=attempts,
            retry_after_seconds=failure.retry_after_seconds,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RetryingClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def raise_for_upstream_status(response: httpx.Response, *, service_name: str) -> None:
    """Turn a non-2xx answer the retries let through (4xx, or a 5xx on a non-idempotent call) into an error."""
    if response.is_success:
        return
    error_class = UpstreamRejected if response.status_code < 500 else UpstreamUnavailable
    raise error_class(
        f"{service_name} answered HTTP {response.status_code}: {response.text[:200]}",
        url=_loggable(str(response.request.url)),
        upstream_status=response.status_code,
    )


def _loggable(url: str) -> str:
    """The URL without its query string (which may carry search terms or, for some services, keys)."""
    return str(httpx.URL(url).copy_with(query=None))

"""The one path every call takes, from the API and from the playground alike:

    caller (API key and scope, or browser session with CSRF) → listing and version → entitlement (grant)
    → rate limits and quotas → credit reservation (pay as you go: the worst-case cost, `credit.py`)
    → provider call (time limit, retries, circuit breaker, fallback version)
    → one usage event (whatever happened) → cost, settled against the reservation.

`Gateway` holds the worker's shared pieces (aiohttp session, Redis, caches, limiter, breakers, usage meter);
`Call` is one call going through it and records exactly one usage event however it ends."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from django.conf import settings
from django.utils.crypto import constant_time_compare

from modelmarket.accounts.selectors import api_key_sha256
from modelmarket.core.exceptions import (
    ApplicationError,
    NotAuthenticated,
    NotFound,
    PaymentRequired,
    PermissionDenied,
    RateLimited,
)
from modelmarket.inference.entitlements import Grant
from modelmarket.inference.gateway.credit import CreditReserver, JobReservation, charged_minor
from modelmarket.inference.gateway.directory import Directory
from modelmarket.inference.gateway.limits import Admission, Limiter, TokenTally, token_tally
from modelmarket.inference.gateway.metering import UsageMeter
from modelmarket.inference.gateway.reliability import CircuitBreakers
from modelmarket.inference.providers.base import CallContext, ProviderError, Target, Usage
from modelmarket.inference.selectors import Listing
from modelmarket.usage.events import UsageRecord, UsageSource, UsageStatus

logger = logging.getLogger(__name__)

_CSRF_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class _RandomIds:
    """Random ids shaped like `uuid.uuid4().hex`, from the OS's random bytes fetched 256 ids at a time: one
    `getrandom` call per id cost more than the rest of making a call's ids. Refilled in a forked child, so workers
    never share bytes."""

    BATCH = 256

    def __init__(self) -> None:
        self.pool = b""
        self.offset = 0
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.pool, self.offset = b"", 0

    def hex(self) -> str:
        if self.offset >= len(self.pool):
            self.pool, self.offset = os.urandom(16 * self.BATCH), 0
        value = int.from_bytes(self.pool[self.offset : self.offset + 16])
        self.offset += 16
        # Version 4, RFC 4122 variant: the bits uuid4 sets.
        return "%032x" % (value & ~(0xF000 << 64 | 0xC000 << 48) | (0x4000 << 64 | 0x8000 << 48))


random_hex = _RandomIds().hex
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: int
    key_id: int | None
    source: str  # UsageSource
    bucket: str  # the per-minute rate limit bucket
    requests_per_minute: int


@dataclass(slots=True)
class Call:
    """One call in flight: what it is, and what it has cost so far. `finish` records its usage event once."""

    gateway: Gateway
    caller: Caller
    listing: Listing
    target: Target
    request_id: str
    stream: bool
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: f"inf_{random_hex()}")
    grant: Grant | None = None
    admission: Admission | None = None
    first_byte: float | None = None
    fallback_used: bool = False
    finished: bool = False
    cost_minor: int = 0
    reserved_minor: int = 0  # pay-as-you-go credit reserved for this call
    _context: CallContext | None = None

    @property
    def currency(self) -> str:
        return self.grant.price.currency if self.grant and self.grant.price else "USD"

    def context(self) -> CallContext:
        """What the provider needs to know of the call (its deadline runs from the call's start), made once."""
        if self._context is None:
            seconds = min(
                self.listing.timeout_seconds or settings.GATEWAY_TIMEOUT_SECONDS,
                settings.GATEWAY_TIMEOUT_SECONDS,
            )
            self._context = CallContext(
                session=self.gateway.session,
                deadline=self.started + seconds,
                request_id=self.request_id,
                platform_credentials=self.gateway.platform_credentials,
            )
        return self._context

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.monotonic()

    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def finish(
        self, status: str, *, usage: Usage | None = None, http_status: int = 200, error_code: str = ""
    ) -> None:
        """Record the call's one usage event and compute its cost (failed calls cost nothing; a stream cut short
        costs what was delivered, which is what `usage` then holds)."""
        if self.finished:
            return
        self.finished = True
        usage = usage or Usage()
        price = self.grant.price if self.grant else None
        if price is not None:
            self.cost_minor = charged_minor(
                price, reserved_minor=self.reserved_minor, status=status, usage=usage
            )
        if price is not None and self.reserved_minor:
            self.gateway.credit.settle(price, reserved_minor=self.reserved_minor, cost_minor=self.cost_minor)
        self.gateway.meter.record(
            UsageRecord(
                event_id=self.id,
                model_id=self.listing.model_id,
                version_id=self.target.version_id,
                user_id=self.caller.user_id,
                api_key_id=self.caller.key_id,
                source=self.caller.source,
                provider=self.target.provider,
                status=status,
                started_at=self.started_at,
                http_status=http_status,
                error_code=error_code,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                tokens_reported=usage.reported,
                compute_ms=usage.compute_ms,
                ttfb_ms=int((self.first_byte - self.started) * 1000) if self.first_byte else None,
                latency_ms=self.latency_ms(),
                cost_minor=self.cost_minor,
                currency=self.currency,
                stream=self.stream,
                request_id=self.request_id,
            )
        )
        if self.grant is not None and usage.input_tokens + usage.output_tokens:
            self.gateway.limiter.tokens_add(
                user_id=self.caller.user_id,
                model_id=self.listing.model_id,
                grant=self.grant,
                tokens=usage.input_tokens + usage.output_tokens,
            )

    def job_reservation(self) -> JobReservation | None:
        """The pay-as-you-go credit reserved for this call, to stay held while the long job it became runs."""
        price = self.grant.price if self.grant else None
        if price is None or not self.reserved_minor:
            return None
        return JobReservation(price=price, reserved_minor=self.reserved_minor)

    def job_token_tally(self) -> TokenTally | None:
        """Where the long job this call became counts its tokens when it ends (None: no token quota)."""
        if self.grant is None:
            return None
        return token_tally(user_id=self.caller.user_id, model_id=self.listing.model_id, grant=self.grant)

    def defer_to_job(self) -> None:
        """The call became a long job (202), which now holds the call's reservation (`job_reservation`): its one
        usage event is recorded and its cost settled when the job ends, with the compute time the provider reports
        then (`inference.services.inference_job_update`)."""
        self.finished = True

    def fail(self, error: ProviderError | ApplicationError, usage: Usage | None = None) -> None:
        status = _usage_status_for(error)
        http_status = error.status if isinstance(error, ProviderError) else error.status_code
        self.finish(status, usage=usage, http_status=http_status, error_code=error.code)

    def headers(self) -> dict[str, str]:
        headers = {
            "X-ModelMarket-Provider": self.target.provider,
            "X-ModelMarket-Model": self.listing.slug,
            "X-ModelMarket-Version": self.target.version,
            "X-ModelMarket-Call-Id": self.id,
        }
        if self.finished:
            headers["X-ModelMarket-Cost"] = f"{self.cost_minor} {self.currency}"
        if self.fallback_used:
            headers["X-ModelMarket-Fallback"] = "true"
        if self.admission is not None:
            headers.update(self.admission.headers())
        return headers


def _usage_status_for(error: ProviderError | ApplicationError) -> str:
    from modelmarket.inference.providers.base import InvalidInput, UpstreamTimeout

    if isinstance(error, InvalidInput):
        return UsageStatus.INVALID_INPUT
    if isinstance(error, UpstreamTimeout):
        return UsageStatus.TIMEOUT
    if isinstance(error, ApplicationError):
        return UsageStatus.REJECTED
    return UsageStatus.UPSTREAM_ERROR


def csrf_secret_from_token(token: str) -> str | None:
    """Django's CSRF form token is 64 characters: a 32-character mask, then the secret shifted by the mask."""
    if len(token) == 32:
        return token
    if len(token) != 64 or any(character not in _CSRF_CHARS for character in token):
        return None
    mask, cipher = token[:32], token[32:]
    size = len(_CSRF_CHARS)
    return "".join(
        _CSRF_CHARS[(_CSRF_CHARS.index(c) - _CSRF_CHARS.index(m)) % size]
        for c, m in zip(cipher, mask, strict=True)
    )


class Gateway:
    """One per worker process."""

    def __init__(self, *, redis: Any | None, meter: UsageMeter | None = None) -> None:
        self.redis = redis
        self.directory = Directory(redis=redis)
        self.limiter = Limiter(redis)
        self.credit = CreditReserver(redis)
        self.breakers = CircuitBreakers()
        self.meter = meter or UsageMeter()
        self.session: aiohttp.ClientSession = None  # type: ignore[assignment]  # set in start()
        self.platform_credentials = {
            "huggingface": settings.HUGGINGFACE_TOKEN,
            "replicate": settings.REPLICATE_API_TOKEN,
        }
        self._stopping = asyncio.Event()
        self._token_flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from modelmarket.inference.ssrf import guarded_connector

        self.session = aiohttp.ClientSession(
            connector=guarded_connector(limit=0, ttl_dns_cache=60),
            raise_for_status=False,
            auto_decompress=True,
        )
        if self.redis is not None:
            try:
                await self.redis.ping()  # open the first connection now, not under the first burst of calls
            except Exception:
                logger.exception("Redis is not reachable; calls answer 503 limits_unavailable until it is")
        await self.directory.refresh()
        self.directory.start()
        self.meter.start()
        self._token_flusher = asyncio.get_running_loop().create_task(
            self.limiter.run_token_flusher(self._stopping), name="token-flusher"
        )

    async def stop(self) -> None:
        await self.directory.stop()
        self._stopping.set()
        if self._token_flusher is not None:
            await self._token_flusher
        await self.limiter.tokens_flush()
        await self.credit.stop()
        await self.meter.stop()
        if self.session is not None:
            await self.session.close()
        if self.redis is not None:
            await self.redis.aclose()

    # --- Admission ---------------------------------------------------------------------------------------------
    async def _limit_guessing(self, client: str) -> None:
        """Presenting keys that do not exist counts against the address's anonymous limit, so keys cannot be
        guessed at the gateway's speed."""
        admission = await self.limiter.admit(
            caller=f"ip:{client}",
            caller_limit=settings.API_ANONYMOUS_REQUESTS_PER_MINUTE,
            user_id=0,
            model_id=0,
            grant=Grant(plan="anonymous"),
        )
        if not admission.allowed:
            raise RateLimited(
                "Too many requests with invalid API keys from this address.",
                retry_after_seconds=admission.reset_seconds,
            )

    async def caller(
        self, headers: dict[str, str], cookies: dict[str, str], method: str, scope: str, client: str = ""
    ) -> Caller:
        """Who is calling: an API key (`Authorization: Bearer` or `X-API-Key`) holding `scope`, or the browser
        session (playground), which must carry the CSRF token on writes."""
        raw = _raw_key(headers)
        if raw is not None:
            if not raw.startswith(settings.API_KEY_PREFIX) or len(raw) > 200:
                raise NotAuthenticated("The API key is malformed.", code="invalid_api_key")
            grant = await self.directory.key(api_key_sha256(raw))
            if grant is None:
                await self._limit_guessing(client)
                raise NotAuthenticated("The API key is not valid.", code="invalid_api_key")
            if not grant.active:
                reason = grant.reason or "api_key_revoked"
                message = (
                    "The API key has been revoked."
                    if reason == "api_key_revoked"
                    else "The account is disabled."
                )
                raise NotAuthenticated(message, code=reason)
            if grant.expires_at is not None and grant.expires_at <= datetime.now(UTC):
                raise NotAuthenticated("The API key has expired.", code="api_key_expired")
            if scope not in grant.scopes:
                raise PermissionDenied(
                    f"This API key lacks the '{scope}' scope.",
                    code="insufficient_scope",
                    details={"required": scope},
                )
            return Caller(
                user_id=grant.user_id,
                key_id=grant.key_id,
                source=UsageSource.API,
                bucket=f"key:{grant.key_id}",
                requests_per_minute=grant.requests_per_minute or settings.API_DEFAULT_REQUESTS_PER_MINUTE,
            )
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        user_id = await self.directory.session_user_id(session_key) if session_key else None
        if user_id is None:
            raise NotAuthenticated()
        if method not in _SAFE_METHODS:
            self._check_csrf(headers, cookies)
        return Caller(
            user_id=user_id,
            key_id=None,
            source=UsageSource.PLAYGROUND,
            bucket=f"session:{user_id}",
            requests_per_minute=settings.API_SESSION_REQUESTS_PER_MINUTE,
        )

    @staticmethod
    def _check_csrf(headers: dict[str, str], cookies: dict[str, str]) -> None:
        origin = headers.get("origin")
        if origin and origin != "null":
            host = headers.get("host", "")
            allowed = {f"http://{host}", f"https://{host}", *settings.CSRF_TRUSTED_ORIGINS}
            if origin not in allowed:
                raise PermissionDenied("Cross-site request refused.", code="csrf_failed")
        cookie = csrf_secret_from_token(cookies.get(settings.CSRF_COOKIE_NAME, ""))
        sent = csrf_secret_from_token(headers.get("x-csrftoken", ""))
        if not cookie or not sent or not constant_time_compare(cookie, sent):
            raise PermissionDenied("The CSRF token is missing or wrong.", code="csrf_failed")

    async def listing(self, caller: Caller, slug: str) -> Listing:
        listing = await self.directory.listing(slug) if slug else None
        if listing is None or not (listing.public or listing.creator_id == caller.user_id):
            raise NotFound(f"No model called '{slug}'.", code="model_not_found")
        return listing

    def target(self, caller: Caller, listing: Listing, version: str | None) -> Target:
        target = listing.version_for(caller.user_id, version)
        if target is None:
            if version:
                raise NotFound(
                    f"{listing.slug} has no callable version '{version}'.", code="version_not_found"
                )
            raise NotFound(f"{listing.slug} has no version that can be called yet.", code="version_not_found")
        return target

    async def admit(self, call: Call, *, worst_case: Callable[[], Usage] | None = None) -> None:
        """Entitlement, then limits and quotas, then (pay as you go) the reservation of the call's worst-case cost —
        `worst_case()` bounds its usage; raises (after recording the refusal) when the call may not go on."""
        try:
            call.grant = await self.directory.grant(call.caller.user_id, call.listing)
            try:
                call.admission = await self.limiter.admit(
                    caller=call.caller.bucket,
                    caller_limit=call.caller.requests_per_minute,
                    user_id=call.caller.user_id,
                    model_id=call.listing.model_id,
                    grant=call.grant,
                )
            except Exception as exc:
                # Fail closed: quotas guard money, so no call goes through unchecked while the store is down.
                logger.exception("the limits store failed")
                raise ApplicationError(
                    "Usage limits cannot be checked right now; try again shortly.",
                    code="limits_unavailable",
                    status_code=503,
                ) from exc
        except ApplicationError as refusal:
            call.fail(refusal)
            raise
        if not call.admission.allowed:
            limit_refusal = _refusal(call.admission, call.grant)
            call.fail(limit_refusal)
            raise limit_refusal
        if call.grant.price is not None:
            await self._reserve_credit(call, worst_case() if worst_case else Usage())

    async def _reserve_credit(self, call: Call, worst_case: Usage) -> None:
        price = call.grant.price if call.grant else None
        assert price is not None
        amount = price.worst_case_minor(worst_case)
        try:
            reserved = await self.credit.reserve(price, amount)
        except Exception as exc:
            logger.exception("the credit store failed")
            refusal = ApplicationError(
                "Credit cannot be checked right now; try again shortly.",
                code="limits_unavailable",
                status_code=503,
            )
            call.fail(refusal)
            raise refusal from exc
        if not reserved:
            refusal = PaymentRequired(
                f"Not enough {price.currency} credit for this call: top up your credit to continue.",
                code="insufficient_credit",
                details={"currency": price.currency, "required_minor": amount},
            )
            call.fail(refusal)
            raise refusal
        call.reserved_minor = amount


def _raw_key(headers: dict[str, str]) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return headers.get("x-api-key", "").strip() or None


def _refusal(admission: Admission, grant: Grant) -> ApplicationError:
    if admission.refusal in ("rate_limited", "plan_rate_limited"):
        limit = admission.limit if admission.refusal == "rate_limited" else grant.requests_per_minute
        return RateLimited(
            f"Rate limit of {limit} requests per minute exceeded.",
            code=admission.refusal,
            retry_after_seconds=admission.reset_seconds,
            details={"limit": limit, "retry_after_seconds": admission.reset_seconds},
        )
    what = "requests" if admission.refusal == "request_quota_exhausted" else "tokens"
    quota = grant.request_quota if what == "requests" else grant.token_quota
    return PaymentRequired(
        f"The {grant.quota_period}'s quota of {quota} {what} for this model is used up.",
        code=admission.refusal,
        details={
            "quota": quota,
            "period": grant.quota_period,
            "resets_in_seconds": admission.period_reset_seconds,
        },
    )

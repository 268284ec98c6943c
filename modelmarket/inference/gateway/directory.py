"""The gateway worker's in-process cache of API keys, listings, grants and browser sessions.

Reads go to the ORM (in a thread) only on a miss; concurrent misses for one entry load it once. Entries live until
the gateway generation moves (`core.generation.generation_bump`, called by every service that changes
what is cached), which a background task polls every `poll_interval` seconds — so a revoked key or a retired
version stops working within that time — and at most `ttl` seconds as a safety net."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async

from modelmarket.core.exceptions import ApplicationError
from modelmarket.core.generation import GATEWAY, generation_read, generation_redis_key
from modelmarket.inference import selectors
from modelmarket.inference.entitlements import Grant, entitlement_resolve
from modelmarket.inference.selectors import KeyGrant, Listing

logger = logging.getLogger(__name__)
T = TypeVar("T")


class _Table:
    """One cache table: key → (value, loaded at). Values may be None (a known miss) or an ApplicationError to
    raise again (a known refusal)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: dict[Any, tuple[Any, float]] = {}
        self.loading: dict[Any, asyncio.Future[Any]] = {}

    async def get(self, key: Any, load: Callable[[], Awaitable[Any]], ttl: float) -> Any:
        entry = self.entries.get(key)
        if entry is not None and time.monotonic() - entry[1] < ttl:
            return entry[0]
        future = self.loading.get(key)
        if future is not None:
            return await asyncio.shield(future)
        future = asyncio.get_running_loop().create_future()
        self.loading[key] = future
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            self.loading.pop(key, None)
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = (value, time.monotonic())
        future.set_result(value)
        return value

    def clear(self) -> None:
        self.entries.clear()


SESSION_TTL_SECONDS = 2.0


async def _nothing() -> None:
    return None


def _in_thread[T](function: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    return sync_to_async(function, thread_sensitive=False)


def _resolve_grant(user_id: int, listing: Listing) -> Grant | ApplicationError:
    try:
        return entitlement_resolve(user_id=user_id, listing=listing)
    except ApplicationError as refusal:
        return refusal


class Directory:
    def __init__(
        self,
        *,
        redis: Any | None = None,
        ttl: float = 60.0,
        poll_interval: float = 0.25,
        max_entries: int = 50_000,
    ) -> None:
        self.redis = redis
        self.ttl = ttl
        self.poll_interval = poll_interval
        self.keys = _Table(max_entries)
        self.listings = _Table(max_entries)
        self.grants = _Table(max_entries)
        self.sessions = _Table(max_entries)
        self.unknown_keys = _Table(max(1, max_entries // 5))
        self.generation: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def key(self, key_sha256: str) -> KeyGrant | None:
        """The key's grant, or None for a key that does not exist. Unknown keys are remembered apart, in a smaller
        table, so a flood of made-up keys cannot push the real ones out of the cache."""
        if key_sha256 in self.unknown_keys.entries:
            return await self.unknown_keys.get(key_sha256, _nothing, self.ttl)
        grant = await self.keys.get(
            key_sha256, lambda: _in_thread(selectors.gateway_key_load)(key_sha256), self.ttl
        )
        if grant is None:
            self.keys.entries.pop(key_sha256, None)
            await self.unknown_keys.get(key_sha256, _nothing, self.ttl)
        return grant

    async def listing(self, slug: str) -> Listing | None:
        return await self.listings.get(
            slug, lambda: _in_thread(selectors.gateway_listing_load)(slug), self.ttl
        )

    async def grant(self, user_id: int, listing: Listing) -> Grant:
        """The user's grant for the listing; raises the entitlement's refusal (402) when there is none."""
        key = (user_id, listing.model_id)
        value = await self.grants.get(key, lambda: _in_thread(_resolve_grant)(user_id, listing), self.ttl)
        if (
            isinstance(value, Grant)
            and value.valid_until is not None
            and value.valid_until <= datetime.now(UTC)
        ):
            # The pass or period behind the grant ended since it was cached: ask billing again.
            self.grants.entries.pop(key, None)
            value = await self.grants.get(key, lambda: _in_thread(_resolve_grant)(user_id, listing), self.ttl)
        if isinstance(value, ApplicationError):
            raise value
        return value

    async def session_user_id(self, session_key: str) -> int | None:
        # A short life: logging out deletes the session, and the cookie must stop working soon after.
        return await self.sessions.get(
            session_key,
            lambda: _in_thread(selectors.gateway_session_user_id)(session_key),
            SESSION_TTL_SECONDS,
        )

    def clear(self) -> None:
        for table in (self.keys, self.listings, self.grants, self.sessions, self.unknown_keys):
            table.clear()

    # --- Watching the generation ----------------------------------------------------------------------------------
    async def _read_generation(self) -> int:
        if self.redis is not None:
            return int(await self.redis.get(generation_redis_key(GATEWAY)) or 0)
        return await _in_thread(generation_read)(GATEWAY)

    async def refresh(self) -> None:
        """Drop every cached entry if the generation moved since the last look."""
        try:
            current = await self._read_generation()
        except Exception:
            logger.exception("could not read the gateway generation; dropping caches to be safe")
            self.clear()
            return
        if current != self.generation:
            if self.generation is not None:
                self.clear()
            self.generation = current

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="gateway-generation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.poll_interval)

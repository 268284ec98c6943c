"""Fixtures for the inference tests: the anyio backend, an aiohttp session built like the gateway's (guarded
connector, loopback allow-listed for the fake upstreams), call contexts and a DNS stub."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest

from modelmarket.inference.providers.base import CallContext, Target
from modelmarket.inference.ssrf import guarded_connector


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def allow_loopback(settings: Any) -> None:
    """The fake upstreams listen on 127.0.0.1, which the guard refuses unless the operator allow-lists it."""
    settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["127.0.0.1"]


@pytest.fixture
async def session(allow_loopback: None) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=guarded_connector()) as client_session:
        yield client_session


@pytest.fixture
def call_context(session: aiohttp.ClientSession) -> Callable[..., CallContext]:
    """`call_context(seconds=5.0, credentials={"huggingface": "hf_x"})`: a CallContext on the shared session."""

    def make(seconds: float = 5.0, credentials: dict[str, str] | None = None) -> CallContext:
        return CallContext(
            session=session,
            deadline=time.monotonic() + seconds,
            request_id="req_test",
            platform_credentials=credentials or {},
        )

    return make


def make_target(**overrides: Any) -> Target:
    values: dict[str, Any] = {
        "model_id": 1,
        "slug": "echo-chat",
        "creator_id": 1,
        "task": "chat",
        "version_id": 1,
        "version": "1.0.0",
        "provider": "openai_compatible",
        "runtime": {"provider": "openai_compatible", "model_id": "echo-1"},
    }
    return Target(**{**values, **overrides})


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host name → the addresses `socket.getaddrinfo` answers for it (the save-time check and aiohttp's threaded
    resolver both ask it); other names resolve as usual. Change the dict during a test to rebind a name."""
    answers: dict[str, list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        number = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number))
            for address in answers[name]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def replicate_listing(transactional_db: Any, creator: Any, settings: Any) -> Iterator[tuple[str, Any]]:
    """A published Replicate listing whose predictions take 1.5 s on the fake Replicate (in a thread): calls become
    long jobs (202). Yields the slug and the fake."""
    from modelmarket.inference.tests.listings import published_listing
    from modelmarket.inference.tests.upstreams_replicate import (
        REPLICATE_TEST_TOKEN,
        FakeReplicate,
        ModelScript,
        serve_in_thread,
    )

    fake = FakeReplicate()
    fake.wait_limit_seconds = 1  # Replicate holds `Prefer: wait` up to 60 s; a second keeps the test short
    fake.add_model(
        "acme/slow-painter", ModelScript(output=["https://example.com/out.png"], duration_seconds=1.5)
    )
    with serve_in_thread(fake) as base_url:
        settings.REPLICATE_API_BASE = base_url
        settings.REPLICATE_API_TOKEN = REPLICATE_TEST_TOKEN
        settings.GATEWAY_ALLOWED_UPSTREAM_HOSTS = ["127.0.0.1"]
        model = published_listing(
            creator,
            name="Slow painter",
            task="text-to-image",
            source="replicate",
            external_id="acme/slow-painter",
            runtime={"provider": "replicate", "model_id": "acme/slow-painter"},
        )
        yield model.slug, fake

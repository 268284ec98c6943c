"""`core.redis.AsyncRedis`, the gateway's pipelining Redis client, against a real Redis (and, for the failure paths,
against servers on loopback that never answer or refuse): ordering under concurrency, scripts the server lacks,
reply errors that leave the connection usable, time-outs and lost connections that fail rather than retry."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Any

import pytest
from django.conf import settings

from conftest import requires_redis
from modelmarket.core.redis import AsyncRedis, RedisConnectionError, RedisReplyError, RedisTimeoutError


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def _key(name: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:async-redis-test:{uuid.uuid4().hex}:{name}"


def _client(**options: Any) -> AsyncRedis:
    return AsyncRedis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), **options)


@requires_redis
def test_concurrent_commands_are_pipelined_and_each_caller_gets_its_own_reply():
    async def scenario() -> tuple[list[int], list[bytes | None]]:
        client = _client()
        counter, names = _key("counter"), [_key(f"name{n}") for n in range(50)]
        try:
            await asyncio.gather(*(client.execute("SET", name, f"value-{n}") for n, name in enumerate(names)))
            increments = await asyncio.gather(*(client.execute("INCR", counter) for _ in range(200)))
            values = await asyncio.gather(*(client.get(name) for name in names))
            await client.execute("DEL", counter, *names)
            return increments, values
        finally:
            await client.aclose()

    increments, values = _run(scenario())
    assert sorted(increments) == list(range(1, 201))
    assert values == [f"value-{n}".encode() for n in range(50)]


@requires_redis
def test_a_script_the_server_lacks_is_sent_whole_once_then_run_by_its_hash():
    source = f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"

    async def scenario() -> tuple[list[int], int]:
        client = _client()
        key = _key("scripted")
        try:
            script = client.register_script(source)
            results = [await script(keys=[key], args=[5]) for _ in range(3)]
            cached = (await client.execute("SCRIPT", "EXISTS", script.sha))[0]
            await client.execute("DEL", key)
            return results, cached
        finally:
            await client.aclose()

    results, cached = _run(scenario())
    assert results == [5, 10, 15]  # ran exactly once per call, also the first (EVALSHA refused, then EVAL)
    assert cached == 1


@requires_redis
def test_a_reply_error_fails_its_command_only_and_the_connection_keeps_working():
    async def scenario() -> tuple[str, bool, list[Any]]:
        client = _client()
        text, counter = _key("text"), _key("counter")
        try:
            await client.execute("SET", text, "not a number")
            with pytest.raises(RedisReplyError) as refused:
                await client.execute("INCR", text)
            async with client.pipeline() as pipe:
                replies = await pipe.incrby(counter, 3).expire(counter, 60).execute()
            await client.execute("DEL", text, counter)
            return str(refused.value), await client.ping(), replies
        finally:
            await client.aclose()

    message, alive, replies = _run(scenario())
    assert "not an integer" in message
    assert alive is True
    assert replies == [3, 1]


@requires_redis
def test_pipelines_are_not_transactions():
    with pytest.raises(NotImplementedError):
        _client().pipeline(transaction=True)


async def _silent_server() -> tuple[asyncio.Server, int]:
    """Accepts connections and reads, never answers: a stuck Redis."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1024):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_a_reply_overdue_by_the_timeout_fails_the_command_and_drops_the_connection():
    async def scenario() -> tuple[float, bool]:
        server, port = await _silent_server()
        client = AsyncRedis(host="127.0.0.1", port=port, timeout=0.3, connect_timeout=1)
        try:
            started = asyncio.get_running_loop().time()
            with pytest.raises(RedisTimeoutError):
                await client.execute("PING")
            waited = asyncio.get_running_loop().time() - started
            connection = client._connection
            return waited, connection is None or connection.closed
        finally:
            await client.aclose()
            server.close()
            await server.wait_closed()

    waited, dropped = _run(scenario())
    assert 0.25 <= waited < 2.0
    assert dropped


def test_a_refused_connection_is_a_connection_error_not_a_hang():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there

    async def scenario() -> None:
        client = AsyncRedis(host="127.0.0.1", port=port, timeout=0.5, connect_timeout=1)
        try:
            await client.execute("PING")
        finally:
            await client.aclose()

    with pytest.raises(RedisConnectionError):
        _run(scenario())

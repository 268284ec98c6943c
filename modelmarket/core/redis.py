"""Redis clients: `redis_client()` (redis-py, synchronous) for the web tier and jobs, and `AsyncRedis` for the
gateway's hot path.

`AsyncRedis` exists for speed. The gateway asks Redis one thing per call (one Lua script), and redis-py's asyncio
client spent about 0.2 ms of CPU per command on top of that (a pool checkout under a lock, a retry wrapper, a
timeout context, the command packed and the reply read in several coroutine layers): a fifth of the worker's time
per call. `AsyncRedis` holds one connection per worker and pipelines over it: commands issued in the same loop
iteration go out in one write, replies are matched to their callers in order (RESP answers in order) and parsed by
hiredis. It speaks only what the gateway needs: commands, Lua scripts (EVALSHA, EVAL when the server lacks the
script), a non-transactional pipeline, PING, GET."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections import deque
from collections.abc import Sequence
from typing import Any

import hiredis
import redis
from django.conf import settings


@functools.cache
def redis_client(url: str | None = None) -> redis.Redis:
    """One pooled client per process (redis-py resets its pool in a forked child). Short timeouts: Redis sits on
    the request path, and a stuck Redis must fail a check quickly rather than hold the request."""
    return redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry_on_timeout=False,
        health_check_interval=30,
    )


# --- AsyncRedis ------------------------------------------------------------------------------------------------------
class RedisReplyError(Exception):
    """Redis answered an error (`-ERR ...`, `-NOSCRIPT ...`): the command ran, or was refused, on the server."""


class RedisConnectionError(ConnectionError):
    """The connection failed or was closed before the reply came; whether the command ran is unknown."""


class RedisTimeoutError(TimeoutError):
    """No reply within the client's timeout; the connection is dropped (replies after it would be out of step)."""


Argument = str | bytes | int | float


def _bulk(value: Argument) -> bytes:
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        data = repr(value).encode()
    else:
        raise TypeError(f"Redis arguments are str, bytes, int or float, not {type(value).__name__}")
    return b"$%d\r\n%b\r\n" % (len(data), data)


# Packed arguments seen recently: the gateway's commands repeat theirs (the script's SHA1, the limits, this minute's
# keys), and packing costs more than looking up. Only str and int values (bool is not int here: `__class__ is int`).
_PACKED: dict[str | int, bytes] = {}
_PACKED_MAX = 4096


def pack_command(args: Sequence[Argument]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        kind = arg.__class__
        if kind is str or kind is int:
            packed = _PACKED.get(arg)  # type: ignore[arg-type]
            if packed is None:
                if len(_PACKED) >= _PACKED_MAX:
                    _PACKED.clear()
                packed = _PACKED[arg] = _bulk(arg)  # type: ignore[index]
        else:
            packed = _bulk(arg)
        parts.append(packed)
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    """One socket to Redis. Callers queue commands (`send`); the replies resolve their futures in order. Writes made
    in one loop iteration leave in one `write`. A reply overdue by `timeout` seconds drops the connection and fails
    every command waiting on it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.reader = hiredis.Reader(replyError=RedisReplyError)
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.outgoing: list[bytes] = []
        self.closed = False
        self._watchdog: asyncio.TimerHandle | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            reply = self.reader.gets()
            if reply is False:  # no complete reply buffered (RESP2 has no false value)
                return
            if not waiting:
                self._fail(RedisConnectionError("Redis sent a reply nobody asked for"))
                return
            future, _ = waiting.popleft()
            if future.done():  # its caller was cancelled; the reply still had to be read, in order
                continue
            if isinstance(reply, RedisReplyError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"the connection to Redis was lost: {exc or 'closed'}"))

    # Commands
    def send(self, payload: bytes) -> asyncio.Future[Any]:
        if self.closed or self.transport is None:
            raise RedisConnectionError("the connection to Redis is closed")
        future = self.loop.create_future()
        now = self.loop.time()
        self.waiting.append((future, now))
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(payload)
        if self._watchdog is None:
            self._watchdog = self.loop.call_at(now + self.timeout, self._check_overdue)
        return future

    def _flush(self) -> None:
        if self.outgoing and not self.closed and self.transport is not None:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def _check_overdue(self) -> None:
        self._watchdog = None
        if not self.waiting:
            return
        sent_at = self.waiting[0][1]
        if self.loop.time() - sent_at >= self.timeout:
            self._fail(RedisTimeoutError(f"Redis did not answer within {self.timeout:g} s"))
            return
        self._watchdog = self.loop.call_at(sent_at + self.timeout, self._check_overdue)

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.transport is not None:
            self.transport.abort()
        self.outgoing.clear()
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        self._fail(RedisConnectionError("the Redis client was closed"))


class AsyncRedis:
    """A small pipelining asyncio Redis client (see the module docstring). One per worker, used from its event loop.

    The connection opens on first use and again after it is lost; a command fails (RedisConnectionError,
    RedisTimeoutError, RedisReplyError) rather than being retried, since a retried script may already have run."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        ssl: bool = False,
        timeout: float = 2.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.host, self.port, self.path, self.db = host, port, path, db
        self.username, self.password, self.ssl = username, password, ssl
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 2.0, connect_timeout: float = 5.0) -> AsyncRedis:
        """redis://[[user]:password@]host[:port][/db], rediss:// (TLS) or unix://path[?db=N]."""
        from redis.asyncio.connection import SSLConnection, parse_url

        options = parse_url(url)
        return cls(
            host=options.get("host") or "localhost",
            port=int(options.get("port") or 6379),
            path=options.get("path"),
            db=int(options.get("db") or 0),
            username=options.get("username"),
            password=options.get("password"),
            ssl=options.get("connection_class") is SSLConnection,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if self.path:
            opening = loop.create_unix_connection(lambda: _Connection(self.timeout), self.path)
        else:
            opening = loop.create_connection(
                lambda: _Connection(self.timeout), self.host, self.port, ssl=self.ssl or None
            )
        try:
            _, connection = await asyncio.wait_for(opening, self.connect_timeout)
        except TimeoutError as exc:
            raise RedisTimeoutError(f"could not connect to Redis within {self.connect_timeout:g} s") from exc
        except OSError as exc:
            raise RedisConnectionError(f"could not connect to Redis: {exc}") from exc
        try:
            if self.password:
                credentials = [self.username, self.password] if self.username else [self.password]
                await connection.send(pack_command(["AUTH", *credentials]))
            if self.db:
                await connection.send(pack_command(["SELECT", self.db]))
        except BaseException:
            connection.close()
            raise
        return connection

    async def _connected(self) -> _Connection:
        """The open connection; concurrent callers share one attempt to open it."""
        connection = self._connection
        if connection is not None and not connection.closed:
            return connection
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
            self._connecting.add_done_callback(self._opened)
        return await asyncio.shield(self._connecting)

    def _opened(self, attempt: asyncio.Future[_Connection]) -> None:
        self._connecting = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._connection = attempt.result()

    def _send(self, payload: bytes) -> asyncio.Future[Any] | None:
        connection = self._connection
        if connection is None or connection.closed:
            return None
        return connection.send(payload)

    async def execute(self, *args: Argument) -> Any:
        payload = pack_command(args)
        future = self._send(payload)
        if future is None:
            future = (await self._connected()).send(payload)
        return await future

    async def execute_many(self, commands: Sequence[Sequence[Argument]]) -> list[Any]:
        """Several commands in one write, not a transaction; raises the first error once all have answered."""
        connection = await self._connected()
        futures = [connection.send(pack_command(command)) for command in commands]
        replies = await asyncio.gather(*futures, return_exceptions=True)
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        return replies

    async def ping(self) -> bool:
        return await self.execute("PING") in (b"PONG", "PONG")

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self.execute("GET", key)
        return value

    def register_script(self, source: str) -> Script:
        return Script(self, source)

    def pipeline(self, transaction: bool = False) -> Pipeline:
        if transaction:
            raise NotImplementedError("AsyncRedis pipelines are not transactions (use a Lua script)")
        return Pipeline(self)

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Script:
    """A Lua script run by its SHA1 (EVALSHA); sent whole (EVAL, which also caches it) when the server lacks it,
    e.g. after a restart or SCRIPT FLUSH. Either way it runs once, atomically."""

    def __init__(self, client: AsyncRedis, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, keys: Sequence[Argument] = (), args: Sequence[Argument] = ()) -> Any:
        try:
            return await self.client.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except RedisReplyError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
        return await self.client.execute("EVAL", self.source, len(keys), *keys, *args)


class Pipeline:
    """Commands sent together by `execute` (one write, replies in order); not atomic."""

    def __init__(self, client: AsyncRedis) -> None:
        self.client = client
        self.commands: list[tuple[Argument, ...]] = []

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.commands.clear()

    def incrby(self, key: str, amount: int) -> Pipeline:
        self.commands.append(("INCRBY", key, amount))
        return self

    def expire(self, key: str, seconds: int) -> Pipeline:
        self.commands.append(("EXPIRE", key, seconds))
        return self

    async def execute(self) -> list[Any]:
        commands, self.commands = self.commands, []
        return await self.client.execute_many(commands) if commands else []

"""An ASGI guard in front of Django for request body sizes.

Django's ASGI handler reads the whole body (to memory, then a temporary file) before any view runs, so a view's
own size check comes after a multi-gigabyte body has already been written to disk. This guard answers 413 at once
when the declared Content-Length is over the limit for the path, and stops reading a body (chunked or lying about its
length) as soon as it passes the limit."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


def _too_large_body(limit: int) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"The request body is larger than the {limit} bytes allowed here.",
                "details": {"max_bytes": limit},
            }
        }
    ).encode()


class BodySizeGuard:
    def __init__(self, app: ASGIApp, *, default_limit: int, path_limits: list[tuple[str, int]]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.path_limits = [(re.compile(pattern), limit) for pattern, limit in path_limits]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.path_limits:
            if pattern.match(path):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await self._refuse(send, limit)
                    return {"type": "http.disconnect"}  # Django stops reading and answers nothing more
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = _too_large_body(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class PathDispatcher:
    """Sends each HTTP request to the first application whose path pattern matches, else to `default`; lifespan
    events go to `lifespan` (Django's ASGI handler does not speak the lifespan protocol)."""

    def __init__(
        self, *, routes: list[tuple[str, ASGIApp]], default: ASGIApp, lifespan: ASGIApp | None
    ) -> None:
        self.routes = [(re.compile(pattern), app) for pattern, app in routes]
        self.default = default
        self.lifespan = lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            if self.lifespan is not None:
                await self.lifespan(scope, receive, send)
            return
        path = scope.get("path", "")
        for pattern, app in self.routes:
            if pattern.match(path):
                await app(scope, receive, send)
                return
        await self.default(scope, receive, send)

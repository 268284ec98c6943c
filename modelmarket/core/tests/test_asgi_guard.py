from __future__ import annotations

import asyncio
import json

from modelmarket.core.asgi import BodySizeGuard


class RecordingApp:
    """An ASGI app that reads the whole body, then answers 200 with how many bytes it read."""

    def __init__(self) -> None:
        self.read = 0
        self.called = False

    async def __call__(self, scope, receive, send):
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(self.read).encode()})


def _run(guard, path, chunks, content_length=None):
    headers = [(b"content-length", str(content_length).encode())] if content_length is not None else []
    scope = {"type": "http", "path": path, "headers": headers}
    queue = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    sent = []

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    return sent


def _guard(app):
    return BodySizeGuard(app, default_limit=10, path_limits=[(r"^/upload$", 100)])


def test_declared_oversized_body_is_refused_before_the_app_runs():
    app = RecordingApp()
    sent = _run(_guard(app), "/form", [b"x" * 11], content_length=11)
    assert not app.called
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "payload_too_large"


def test_upload_paths_have_their_own_limit():
    app = RecordingApp()
    sent = _run(_guard(app), "/upload", [b"x" * 60, b"x" * 40], content_length=100)
    assert [message.get("status") for message in sent] == [200, None]
    assert app.read == 100


def test_an_undeclared_body_is_cut_off_once_it_passes_the_limit():
    app = RecordingApp()
    sent = _run(_guard(app), "/form", [b"x" * 6, b"x" * 6, b"x" * 6])
    assert app.read == 6  # the second chunk was never handed to the app
    assert [message.get("status") for message in sent] == [413, None]

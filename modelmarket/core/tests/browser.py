"""A real headless Chromium (Debian's /usr/bin/chromium, never Playwright's download) against the whole ASGI
application — Django pages and the Starlette gateway, as `config.asgi:application` serves them in production.

pytest-django's `live_server` is a WSGI server: it would serve the pages but not the gateway. So `asgi_server` runs
granian's embedded server in a thread of the test process. In-process (not a `granian` subprocess) on purpose: the
test database (SQLite in memory by default), the local-memory cache and in-memory file storage are all visible to it,
so browser tests run with and without PostgreSQL and Redis. Every test write must happen before the server starts
(or through it): SQLite's shared in-memory test database locks whole tables, so a write from the test thread while
the gateway polls its cache generation fails with "database table is locked" instead of waiting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(os.environ.get("BROWSER_SCREENSHOT_DIR", "test-results"))

# What every browser test module marks itself with.
BROWSER_TEST_MARKS = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium: apt-get install chromium"
    ),
]


def session_key_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, thread: threading.Thread, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the ASGI server thread stopped while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the ASGI server did not listen on port {port} within {seconds} s")


@contextlib.contextmanager
def asgi_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`config.asgi:application` (static files added, as `live_server` adds them) on a free port; yields its URL."""
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from granian.constants import Interfaces
    from granian.server.embed import Server

    from config.asgi import application

    # Playwright's sync API runs an event loop in the test thread; Django's ORM calls there are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    port = _free_port()
    server = Server(
        ASGIStaticFilesHandler(application),  # type: ignore[arg-type]  # any ASGI app works
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        log_enabled=False,
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    try:
        _wait_for_port(port, thread)
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(timeout=15)
        if not thread.is_alive():
            loop.close()
        _close_server_connections()


def _close_server_connections() -> None:
    """The server's worker threads keep their database connections; on PostgreSQL they would block dropping the
    test database, so end them (SQLite's in-memory database has nothing to end)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@contextlib.contextmanager
def chromium_context(base_url: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base_url, color_scheme="light")
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()
            browser.close()


@contextlib.contextmanager
def screenshot_on_failure(page: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{request.node.name}.png"), full_page=True)


def log_in(context: Any, base_url: str, session_key: str) -> None:
    """The browser holds `session_key`'s cookie."""
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": base_url}])

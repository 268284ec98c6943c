"""The playground on a model page, in a real headless Chromium against the whole ASGI application (Django pages and
the Starlette gateway, as `config.asgi:application` serves them in production). Uses Debian's /usr/bin/chromium.

pytest-django's `live_server` is a WSGI server: it would serve the page but not the gateway. So the fixture below
runs granian's embedded server in a thread of this process. In-process (not a `granian` subprocess) on purpose: the
test database (SQLite in memory by default), the local-memory cache and the in-memory file storage holding the demo
ONNX files are all visible to it, so the test runs with and without PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.demo.loader import demo_catalog_load

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

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium: apt-get install chromium"
    ),
]


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


@pytest.fixture
def demo_catalog(transactional_db: Any) -> None:
    demo_catalog_load(uploader=make_user("creator"))


@pytest.fixture
def buyer_session(transactional_db: Any) -> str:
    """A logged-in buyer's session key."""
    client = Client()
    client.force_login(make_user("buyer"))
    return str(client.cookies[settings.SESSION_COOKIE_NAME].value)


@pytest.fixture
def asgi_server(demo_catalog: None, buyer_session: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`config.asgi:application` (static files added, as `live_server` adds them) on a free port; its URL.

    Every test write happens before it starts (hence the fixtures it depends on): SQLite's shared in-memory test
    database locks whole tables, so a write from this thread while the gateway polls its cache generation would
    fail with "database table is locked" instead of waiting."""
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
    """The gateway's worker threads keep their database connections; on PostgreSQL they would block dropping the
    test database, so end them (SQLite's in-memory database has nothing to end)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture
def browser_context(asgi_server: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=asgi_server, color_scheme="light")
        context.set_default_timeout(15_000)
        yield context
        context.close()
        browser.close()


@pytest.fixture
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    page = browser_context.new_page()
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{request.node.name}.png"), full_page=True)


@pytest.fixture
def logged_in(browser_context: Any, asgi_server: str, buyer_session: str) -> None:
    """The browser holds the buyer's session cookie."""
    browser_context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": buyer_session, "url": asgi_server}]
    )


def test_a_logged_in_person_runs_the_iris_model_from_its_page(page, logged_in):
    from playwright.sync_api import expect

    page.goto("/models/iris-species-classifier/")
    playground = page.locator("#playground")
    expect(playground.get_by_label("Petal length (cm)")).to_have_attribute("min", "0")
    petal_width = playground.get_by_label("Petal width (cm)")
    assert petal_width.input_value() != ""  # the schema's example, kept
    petal_length = playground.get_by_label("Petal length (cm)")
    petal_length.fill("1.4")
    petal_width.fill("0.2")

    playground.get_by_role("button", name="Run").click()

    expect(playground.locator("[data-playground-label]")).to_have_text("setosa")
    facts = playground.locator("[data-playground-facts]")
    expect(facts).to_contain_text("Latency")
    expect(facts).to_contain_text(" ms")
    expect(facts).to_contain_text("local_onnx")
    expect(facts).to_contain_text("1.0.0")
    expect(playground.locator(".playground-probabilities progress")).to_have_count(3)


def test_an_anonymous_visitor_sees_the_form_and_is_asked_to_log_in(page):
    from playwright.sync_api import expect

    page.goto("/models/iris-species-classifier/")
    playground = page.locator("#playground")
    expect(playground.get_by_label("Sepal length (cm)")).to_be_visible()

    playground.get_by_role("button", name="Run").click()

    alert = playground.get_by_role("alert")
    expect(alert).to_contain_text("Log in to try it")
    expect(alert.get_by_role("link", name="Log in")).to_have_attribute(
        "href", "/accounts/login/?next=/models/iris-species-classifier/%23playground"
    )


def test_the_digit_pad_paints_the_pixels_and_runs(page, logged_in):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 360, "height": 800})
    page.goto("/models/handwritten-digit-classifier-8x8/")
    playground = page.locator("#playground")
    pad = playground.locator("[data-playground-pad]")
    expect(pad).to_be_visible()
    expect(
        playground.get_by_label("Pixel row 0, column 3 (ink count)")
    ).to_be_hidden()  # behind "Show numbers"

    # A vertical stroke with the mouse, down column 4: a "1".
    pad.scroll_into_view_if_needed()
    cell = pad.locator(".playground-pad-cell").first.bounding_box()
    assert cell is not None
    x = cell["x"] + cell["width"] * 4.5
    page.mouse.move(x, cell["y"] + cell["height"] * 1.5)
    page.mouse.down()
    for row in range(2, 7):
        page.mouse.move(x, cell["y"] + cell["height"] * (row + 0.5), steps=3)
    page.mouse.up()
    # And one pixel from the keyboard: arrow to row 0, column 1, then Space.
    pad.locator(".playground-pad-cell").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")

    playground.get_by_text("Show numbers").click()
    expect(playground.get_by_label("Pixel row 3, column 4 (ink count)")).to_have_value("16")
    expect(playground.get_by_label("Pixel row 0, column 1 (ink count)")).to_have_value("16")
    expect(playground.get_by_label("Pixel row 3, column 0 (ink count)")).to_have_value("0")

    playground.get_by_role("button", name="Run").click()

    expect(playground.locator("[data-playground-label]")).to_have_text(re.compile(r"^[0-9]$"))
    expect(playground.locator("[data-playground-facts]")).to_contain_text("Latency")

    playground.get_by_role("button", name="Clear").click()
    expect(playground.get_by_label("Pixel row 3, column 4 (ink count)")).to_have_value("0")

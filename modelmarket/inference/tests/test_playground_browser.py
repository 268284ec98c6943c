"""The playground on a model page, in a real headless Chromium against the whole ASGI application (Django pages and
the Starlette gateway); the harness is `modelmarket/core/tests/browser.py`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from modelmarket.accounts.tests.factories import make_user
from modelmarket.catalog.demo.loader import demo_catalog_load
from modelmarket.core.tests import browser

pytestmark = browser.BROWSER_TEST_MARKS


@pytest.fixture
def demo_catalog(transactional_db: Any) -> None:
    demo_catalog_load(uploader=make_user("creator"))


@pytest.fixture
def buyer_session(transactional_db: Any) -> str:
    """A logged-in buyer's session key."""
    return browser.session_key_for(make_user("buyer"))


@pytest.fixture
def asgi_server(demo_catalog: None, buyer_session: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The application, served once every test write is done (hence the fixtures it depends on)."""
    with browser.asgi_server(monkeypatch) as url:
        yield url


@pytest.fixture
def browser_context(asgi_server: str) -> Iterator[Any]:
    with browser.chromium_context(asgi_server) as context:
        yield context


@pytest.fixture
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    with browser.screenshot_on_failure(browser_context.new_page(), request) as page:
        yield page


@pytest.fixture
def logged_in(browser_context: Any, asgi_server: str, buyer_session: str) -> None:
    browser.log_in(browser_context, asgi_server, buyer_session)


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

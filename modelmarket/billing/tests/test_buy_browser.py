"""A buyer's first purchase, in a real headless Chromium against the whole application, with the offline sandbox as
payment gateway: the demo's paid model → Buy → the sandbox payment page → Pay (a signed webhook through the same
verification and processing code as Helio's) → the order paid, an invoice, a notification, and the model runs in the
playground. Then pay as you go: a credit top-up, and a call that spends it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from modelmarket.accounts.tests.factories import make_user
from modelmarket.billing.demo import demo_plans_load
from modelmarket.catalog.demo.loader import demo_catalog_load
from modelmarket.core.tests import browser

pytestmark = browser.BROWSER_TEST_MARKS
WINE = "wine-cultivar-classifier"
DIAGNOSIS = "breast-cancer-diagnosis-classifier"


@pytest.fixture
def base_url(
    transactional_db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    """The demo catalog with its plans, a buyer's session, then the application served: (URL, session key)."""
    settings.PAYMENT_GATEWAY = "sandbox"
    demo_catalog_load(uploader=make_user("creator"))
    demo_plans_load()
    session = browser.session_key_for(make_user("buyer"))
    with browser.asgi_server(monkeypatch) as url:
        yield url, session


@pytest.fixture
def page(base_url: tuple[str, str], request: pytest.FixtureRequest) -> Iterator[Any]:
    url, session = base_url
    with browser.chromium_context(url) as context:
        browser.log_in(context, url, session)
        with browser.screenshot_on_failure(context.new_page(), request) as page:
            yield page


def test_a_buyer_buys_lifetime_access_in_the_sandbox_and_runs_the_model(page):
    from playwright.sync_api import expect

    page.goto(f"/models/{WINE}/")
    page.get_by_role("button", name="Buy Lifetime").click()

    expect(page.get_by_role("heading", name="Pay for your order")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/billing/sandbox/pay/ord_[0-9a-f]+"))
    page.get_by_role("button", name=re.compile(r"^Pay 5\.00 USDC")).click()

    status = page.locator("#order-status")
    expect(status).to_contain_text("Paid")
    expect(status).to_contain_text("Your access is active")
    page.get_by_role("link", name=re.compile("invoice", re.IGNORECASE)).first.click()
    expect(page.get_by_text(re.compile(r"\d{4}-\d{6}")).first).to_be_visible()
    expect(page.get_by_text("5.00 USDC").first).to_be_visible()

    page.goto("/notifications/")
    expect(page.get_by_role("main")).to_contain_text("Lifetime")

    page.goto(f"/models/{WINE}/")
    expect(page.locator(".plans-card")).to_contain_text("You have lifetime access.")
    playground = page.locator("#playground")
    playground.get_by_role("button", name="Run").click()
    expect(playground.locator("[data-playground-label]")).to_have_text(re.compile(r"^class_[0-2]$"))


def test_a_buyer_tops_up_credit_and_a_pay_as_you_go_call_spends_it(page):
    from playwright.sync_api import expect

    page.goto(f"/models/{DIAGNOSIS}/")
    expect(page.locator(".plans-card")).to_contain_text("you have none in USDC yet")
    page.get_by_role("link", name="Top up credit").click()
    page.get_by_label("Amount").fill("1")
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("button", name=re.compile(r"^Pay 1\.00 USDC")).click()
    expect(page.locator("#order-status")).to_contain_text("Paid")

    page.goto(f"/models/{DIAGNOSIS}/")
    expect(page.locator(".plans-card")).to_contain_text("1.00 USDC")
    page.locator("#playground").get_by_role("button", name="Run").click()
    expect(page.locator("#playground [data-playground-facts]")).to_contain_text("local_onnx")

    # The call's cost is booked with its usage event when the gateway's meter next writes (every 200 ms).
    for _ in range(50):
        page.goto("/account/credit/")
        if "Pay-as-you-go usage" in page.get_by_role("main").inner_text():
            break
        page.wait_for_timeout(100)
    expect(page.get_by_role("main")).to_contain_text("-0.001 USDC")
    expect(page.locator(".wallet-balances")).to_contain_text("0.999")

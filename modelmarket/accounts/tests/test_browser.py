"""The account journey in a real headless Chromium: sign up, verify by email, log in, create an API key, switch
to the dark theme. Uses Debian's /usr/bin/chromium (never `playwright install`)."""

from __future__ import annotations

import re

import pytest

from modelmarket.accounts.models import ApiKey, User
from modelmarket.accounts.selectors import api_key_sha256
from modelmarket.core.tests import browser

EMAIL = "grace@example.com"
PASSWORD = "a-long-and-unusual-passphrase-42"

pytestmark = browser.BROWSER_TEST_MARKS


@pytest.fixture
def page(live_server, monkeypatch, request):
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls here are still synchronous.
    # monkeypatch restores the environment afterwards, so later tests (and their subprocesses) do not inherit it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with (
        browser.chromium_context(live_server.url) as context,
        browser.screenshot_on_failure(context.new_page(), request) as page,
    ):
        yield page


def test_a_new_person_signs_up_verifies_logs_in_creates_a_key_and_keeps_the_dark_theme(page, mailoutbox):
    from playwright.sync_api import expect

    # Sign up.
    page.goto("/accounts/signup/")
    expect(page.get_by_text("You must verify your email before you can create API keys")).to_be_visible()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status").filter(has_text=f"Confirmation email sent to {EMAIL}")).to_be_visible()

    # Before verification the keys page explains instead of offering the form.
    page.goto("/account/keys/")
    expect(page.get_by_text("Verify your email address first")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_count(0)

    # Open the link from the verification email and confirm.
    assert [message.to for message in mailoutbox] == [[EMAIL]]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mailoutbox[0].body).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status").filter(has_text=f"You have confirmed {EMAIL}")).to_be_visible()

    # Log out from the account menu, then log in again.
    page.goto("/")
    page.locator("details[data-menu] > summary").click()
    page.get_by_role("button", name="Log out").click()
    header_login = page.get_by_role("banner").get_by_role("link", name="Log in")
    expect(header_login).to_be_visible()
    header_login.click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.locator("details[data-menu] > summary")).to_contain_text("grace")

    # Create an API key: the full key is shown once.
    page.goto("/account/keys/")
    expect(page.get_by_text("No keys yet")).to_be_visible()
    page.get_by_label("Name").fill("laptop")
    page.get_by_label("Read account, usage and catalog data").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("Copy this key now. You won't see it again.")).to_be_visible()
    raw_key = page.locator("#new-api-key").inner_text().strip()
    assert raw_key.startswith("mm_")
    key = ApiKey.objects.get(user=User.objects.get(email=EMAIL))
    assert (key.name, key.scopes, key.key_sha256) == (
        "laptop",
        ["inference", "read"],
        api_key_sha256(raw_key),
    )

    # It is listed, by its prefix only.
    page.get_by_role("link", name="back to my keys").click()
    row = page.locator(f"#key-{key.pk}")
    expect(row).to_contain_text("laptop")
    expect(row).to_contain_text(f"{key.prefix}…")
    expect(row).to_contain_text("Active")
    expect(page.get_by_text(raw_key)).to_have_count(0)

    # Switch to the dark theme; it survives a reload.
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    background_dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "true")
    assert (
        page.evaluate("getComputedStyle(document.body).backgroundColor")
        == background_dark
        == "rgb(12, 16, 25)"
    )

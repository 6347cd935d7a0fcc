"""The console's token prompt in a real Chromium, for an emulator started with ``--token``."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mms_pulumi.emulator.process import EmulatorProcess

TOKEN = "browser-token-93c1d7"
pytestmark = pytest.mark.emulator(operation_seconds=0.05, token=TOKEN, secrets=(TOKEN,))


def test_the_token_is_asked_for_once_and_kept_nowhere_in_the_browser(
    page: Page, emulator: EmulatorProcess
) -> None:
    page.goto(f"{emulator.base_url}/_emulator/console/")
    assert page.url.endswith("/_emulator/console/login")
    page.get_by_label("Token").fill("not-it")
    page.get_by_role("button", name="Open the console").click()
    expect(page.get_by_role("alert")).to_contain_text("not this emulator's token")
    page.errors.clear()  # type: ignore[attr-defined] # that answer was a 401, as it should be
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Open the console").click()
    expect(page.locator("h1")).to_have_text("Accounts")
    assert TOKEN not in page.url
    cookies = page.context.cookies()
    assert cookies and all(TOKEN not in cookie["value"] for cookie in cookies)
    assert all(cookie["httpOnly"] and cookie["sameSite"] == "Strict" for cookie in cookies)
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script reads it
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{emulator.base_url}/_emulator/console/")
    assert page.url.endswith("/_emulator/console/login")
    assert page.errors == []  # type: ignore[attr-defined]

"""A real Chromium for the console's browser tests: Debian's, driven by Playwright
(``scripts.chromium`` says which and how). Without one the browser tests skip, except
under CI, where they fail. A test that fails leaves a screenshot of its page in
``.test-artifacts/console/`` (or ``$MMS_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from scripts.chromium import CHROMIUM_FLAGS, chromium_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, Page, Playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MMS_TEST_ARTIFACTS", ROOT / ".test-artifacts")) / "console"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Keep each phase's report on the test item, so a fixture can tell it failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def playwright_chromium() -> Iterator[Browser]:
    """One headless Chromium for the module. Not for the session: sync Playwright runs an
    event loop on the main thread while it is open, and later tests that call
    ``asyncio.run`` (the plugin's) would find it running."""
    executable = chromium_path()
    missing = None
    if executable is None:
        missing = "no chromium on this machine (scripts/install-chromium installs Debian's)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (scripts/bootstrap installs the dev extras)"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI runs the console's browser tests, and {missing}")
        pytest.skip(missing)
    with sync_playwright() as playwright:
        yield _launch(playwright, str(executable))


def _launch(playwright: Playwright, executable: str) -> Browser:
    return playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS))


@pytest.fixture
def page(playwright_chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page; a screenshot of it when the test fails. Every
    dialog the page opens is recorded on ``page.dialogs`` and dismissed, unless the test
    put ``True`` on ``page.dialog_answers`` first. Script errors go to ``page.errors``."""
    context = playwright_chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    dialogs: list[str] = []
    answers: list[bool] = []  # a test appends True to accept the next dialog

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        if answers and answers.pop(0):
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", answer)
    page.dialogs = dialogs  # type: ignore[attr-defined]
    page.dialog_answers = answers  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()

"""Take the README's screenshot of the console's chain view, of what the quickstart deployed.

    scripts/quickstart
    scripts/pulumi stack output --json | .venv/bin/python -m scripts.console_screenshot OUT.png

Reads the stack's ``scoring_uri`` from stdin to find the emulator, opens its console in the
system's Chromium (as the browser tests do), follows the links to the service the URI
names, and saves the chain view as a PNG.
"""

from __future__ import annotations

import json
import sys

from playwright.sync_api import sync_playwright

from scripts.chromium import CHROMIUM_FLAGS, chromium_path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    uri = str(json.load(sys.stdin).get("scoring_uri") or "")
    base, found, rest = uri.partition("/api/v1/service/")
    service_id = rest.split("/", 1)[0]
    executable = chromium_path()
    if not found or not service_id or executable is None:
        print("console_screenshot: need a scoring_uri on stdin and a chromium", file=sys.stderr)
        return 1
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS))
        page = browser.new_page(viewport={"width": 1320, "height": 800}, device_scale_factor=1)
        page.goto(f"{base}/_emulator/console/")
        accounts = [a.get_attribute("href") for a in page.locator("#accounts tbody a").all()]
        for href in accounts:
            page.goto(f"{base}{href}")
            link = page.locator(f"#service-{service_id} a").first
            if link.count():
                link.click()
                break
        else:
            print(f"console_screenshot: no service {service_id} in the console", file=sys.stderr)
            return 1
        page.locator("#chain-section").screenshot(path=argv[0])
        browser.close()
    print(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

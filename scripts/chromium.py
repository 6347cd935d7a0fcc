"""Which Chromium the browser tests and the console screenshot drive, and how it starts.

Playwright's own browser download cannot work here, so it launches the system's
``chromium`` (``scripts/install-chromium`` installs Debian's; ``$MMS_CHROMIUM`` names
another) with ``executable_path``.
"""

from __future__ import annotations

import os
import shutil

# As the machine's notes give them: without the background-networking flags Chromium
# tries hosts this closed network refuses, at every start.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_path() -> str | None:
    """The Chromium to drive, or ``None`` when this machine has none."""
    named = os.environ.get("MMS_CHROMIUM")
    if named:
        return named
    return shutil.which("chromium") or shutil.which("chromium-browser")

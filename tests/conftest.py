"""Suite-wide guard: every test cleans up the processes it starts."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest

_MARKERS = (
    "mms_pulumi.emulator.scoring",
    "-m mms_pulumi.emulator --port 0",
    "pulumi.dynamic 127.0.0.1:0",
)


def _strays() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if any(m in line for m in _MARKERS)]


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes() -> Iterator[None]:
    """After the suite, no emulator, scoring or plugin process of ours is left running."""
    before = set(_strays())
    yield
    deadline = time.monotonic() + 15
    left = [p for p in _strays() if p not in before]
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = [p for p in _strays() if p not in before]
    assert left == [], f"processes left running after the suite: {left}"

"""Suite-wide guard: every test cleans up the processes it starts."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

_MARKERS = ("mms_pulumi.emulator", "pulumi.dynamic")


def _ours(basetemp: str) -> list[str]:
    """Emulator, scoring and plugin processes this session started (its children, or ones
    whose arguments point into its temporary directory, such as orphaned scoring processes)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines() if len(line.split(None, 2)) == 3]
    children: dict[str, list[str]] = {}
    for pid, ppid, _ in rows:
        children.setdefault(ppid, []).append(pid)
    descendants, frontier = set(), [str(os.getpid())]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in descendants:
                descendants.add(child)
                frontier.append(child)
    return [
        f"{pid} {args}"
        for pid, _, args in rows
        if any(m in args for m in _MARKERS) and (pid in descendants or basetemp in args)
    ]


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the suite, no emulator, scoring or plugin process of ours is left running."""
    basetemp = str(tmp_path_factory.getbasetemp())
    yield
    deadline = time.monotonic() + 15
    while (left := _ours(basetemp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"processes left running after the suite: {left}"
